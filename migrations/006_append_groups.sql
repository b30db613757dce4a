-- Single appends stored together (issue 8): the service gathers the single-link appends that arrive
-- while others are being stored and sends them in one call, one transaction and one commit for the
-- group, instead of one each (PostgreSQL's work per link about halves: docs/performance.md). The
-- links of such a group come from unrelated requests, so one link's refusal must not refuse the
-- others: with `independent`, a refused link is answered with its refusal and the call goes on.
-- Every check of a link comes before any of its writes, so a refused link leaves nothing behind,
-- without a savepoint per link.
--
-- Without `independent` (a batch: all or nothing) a refusal raises as migration 005 describes:
-- SQLSTATE 'PP409' / 'PP422' with the refusal's code as the message and its JSON detail, 'PP001'
-- for a signing key revoked since the service cached it. With it, the link's result is
-- {hash, refused: {errcode, code, detail}} with the same three, and the other links' results are as
-- before: {hash, created, accepted_at, receipt_sig}, one result per item, in order.
--
-- What a link costs PostgreSQL (docs/performance.md): the checks are migration 005's, in its order,
-- with the same answers, but the accepted links are written together, a few statements for many
-- links instead of three each (a link, its queue row, its private data), in the order accepted. A
-- check never runs before the links it could read are written: links are written before any link
-- that names links (prev, refs), and before every link when one is in the call twice. The revoked
-- signing keys are looked up once for the call, after its locks; each item's fields are read once,
-- typed (jsonb_to_recordset), not with ->> at each use.
DROP FUNCTION pop_append(jsonb);

-- pop_append's writes, for links it has checked and accepted (it checks nothing itself): the items
-- at `ords` (1-based places in `items`, ascending), in that order: the links, their places in the
-- sealing queue, their encrypted private data.
CREATE FUNCTION pop_append_store(items jsonb, ords integer[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_item  jsonb;
  v_link  links;
  v_seq   bigint;
BEGIN
  IF cardinality(ords) = 1 THEN
    -- One link (a single append, or one the next link names): three plain statements cost less
    -- than the set-based one below. (The item's fields have the names of links' columns, but for
    -- its version.)
    v_item := items -> (ords[1] - 1);
    v_link := jsonb_populate_record(NULL::links, v_item);
    INSERT INTO links (hash, process, process_version, map_id, step, author, created_at, prev, refs, tags, canonical, signatures, accepted_at, accepted_ts, receipt_sig)
      VALUES (v_link.hash, v_link.process, (v_item->>'version')::integer, v_link.map_id, v_link.step, v_link.author, v_link.created_at,
              coalesce(v_link.prev, '{}'), coalesce(v_link.refs, '{}'), coalesce(v_link.tags, '{}'), v_link.canonical, v_link.signatures,
              v_link.accepted_at, v_link.accepted_ts, v_link.receipt_sig)
      RETURNING seq INTO v_seq;
    INSERT INTO unsealed_links (seq, link_hash, accepted_ts) VALUES (v_seq, v_link.hash, v_link.accepted_ts);
    IF jsonb_typeof(v_item->'private') = 'object' THEN
      INSERT INTO private_data (link_hash, key_id, iv, ciphertext, tag)
        VALUES (v_link.hash, v_item->'private'->>'key_id', decode(v_item->'private'->>'iv', 'hex'), decode(v_item->'private'->>'ciphertext', 'hex'),
                decode(v_item->'private'->>'tag', 'hex'));
    END IF;
    RETURN;
  END IF;
  WITH a AS (
    SELECT p.n, x.* FROM unnest(ords) WITH ORDINALITY AS p(ord, n),
      jsonb_to_record(items -> (p.ord - 1)) AS x(hash text, process text, version text, map_id text, step text, author text, created_at text,
        prev text[], refs text[], tags text[], canonical text, signatures jsonb, accepted_at text, accepted_ts text, receipt_sig text, private jsonb)
     ORDER BY p.n
  ), l AS (
    INSERT INTO links (hash, process, process_version, map_id, step, author, created_at, prev, refs, tags, canonical, signatures, accepted_at, accepted_ts, receipt_sig)
      SELECT a.hash, a.process, a.version::integer, a.map_id, a.step, a.author, a.created_at::timestamptz, coalesce(a.prev, '{}'), coalesce(a.refs, '{}'),
             coalesce(a.tags, '{}'), a.canonical, a.signatures, a.accepted_at, a.accepted_ts::timestamptz, a.receipt_sig
        FROM a ORDER BY a.n -- seq in acceptance order
      RETURNING seq, hash, accepted_ts
  ), q AS (
    -- Queued for sealing in the same transaction: an accepted link is never forgotten.
    INSERT INTO unsealed_links (seq, link_hash, accepted_ts) SELECT l.seq, l.hash, l.accepted_ts FROM l
  )
  INSERT INTO private_data (link_hash, key_id, iv, ciphertext, tag)
    SELECT a.hash, a.private->>'key_id', decode(a.private->>'iv', 'hex'), decode(a.private->>'ciphertext', 'hex'), decode(a.private->>'tag', 'hex')
      FROM a WHERE jsonb_typeof(a.private) = 'object';
END $$;

CREATE FUNCTION pop_append(items jsonb, independent boolean DEFAULT false) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  it         record;
  v_heads    text[];
  v_found    boolean;
  v_revoked  integer[];
  v_missing  text[];
  v_stored   record;
  v_refusal  jsonb;
  v_replay   boolean;
  r          record;
  v_p        text;
  v_steps    text[];
  v_step     text;
  v_results  jsonb[] := '{}';
  v_keys     integer[];
  v_key      integer;
  v_twice    boolean;
  v_created  timestamptz;
  v_pending  integer[] := '{}';
BEGIN
  -- Every map the call touches is locked first, in one global order (advisory locks keyed by the
  -- map), so two calls naming the same maps in different orders wait for each other instead of
  -- deadlocking on the maps' rows. (The two-key form: a space apart from the sealer's lock.) And
  -- v_twice: a link is in the call twice, so any check may read a link accepted before it.
  IF jsonb_array_length(items) = 1 THEN
    PERFORM pg_advisory_xact_lock(28784, hashtext((items->0->>'process') || '/' || (items->0->>'map_id')));
    v_twice := false;
  ELSE
    SELECT array_agg(DISTINCT hashtext(x.process || '/' || x.map_id) ORDER BY hashtext(x.process || '/' || x.map_id)), count(DISTINCT x.hash) < count(*)
      INTO v_keys, v_twice
      FROM jsonb_to_recordset(items) AS x(hash text, process text, map_id text);
    FOREACH v_key IN ARRAY coalesce(v_keys, '{}') LOOP
      PERFORM pg_advisory_xact_lock(28784, v_key);
    END LOOP;
  END IF;

  -- The service checked the signatures with keys it may have cached: the items (their places) with
  -- a signing key revoked as of their acceptance are refused (keys-changed) when their turn comes.
  v_revoked := ARRAY(
    SELECT x.ord FROM ROWS FROM (jsonb_to_recordset(items) AS (keys jsonb, accepted_ts text)) WITH ORDINALITY AS x(keys, accepted_ts, ord)
      CROSS JOIN LATERAL jsonb_array_elements(x.keys) AS k(v)
      JOIN participant_keys pk ON pk.participant_id = k.v->>0 AND pk.key_id = k.v->>1
     WHERE pk.revoked_at IS NOT NULL AND pk.revoked_at <= x.accepted_ts::timestamptz);

  FOR it IN SELECT * FROM ROWS FROM (jsonb_to_recordset(items) AS (hash text, process text, map_id text, created_at text, prev text[], refs text[],
      accepted_at text, receipt_sig text, starts boolean, after jsonb, finals jsonb, forks boolean, "index" jsonb))
      WITH ORDINALITY AS x(hash, process, map_id, created_at, prev, refs, accepted_at, receipt_sig, starts, after, finals, forks, "index", ord) LOOP
    -- Accepted links are stored together (below), but never after a check that could read them:
    -- one naming links (prev, refs) or, when a link is in the call twice, any.
    IF cardinality(v_pending) > 0 AND (v_twice OR cardinality(it.prev) > 0 OR cardinality(it.refs) > 0) THEN
      PERFORM pop_append_store(items, v_pending);
      v_pending := '{}';
    END IF;
    v_refusal := NULL;
    v_replay := false;

    -- The checks, in migration 005's order; the first refusal leaves the block. Nothing is written
    -- before the block ends, except a new map's row (inserted only when every check has passed).
    <<checks>>
    BEGIN
      -- The map's heads and whether the link is stored, in one statement.
      SELECT (SELECT m.heads FROM maps m WHERE m.process = it.process AND m.map_id = it.map_id),
             EXISTS (SELECT 1 FROM links l WHERE l.hash = it.hash)
        INTO v_heads, v_found;
      IF v_heads IS NOT NULL THEN
        -- The map's row lock serializes appends to one map.
        SELECT m.heads INTO v_heads FROM maps m WHERE m.process = it.process AND m.map_id = it.map_id FOR UPDATE;
      END IF;

      IF v_found THEN
        SELECT l.accepted_at, l.receipt_sig INTO v_stored FROM links l WHERE l.hash = it.hash;
        v_replay := true;
        EXIT checks;
      END IF;
      IF it.ord = ANY(v_revoked) THEN
        v_refusal := jsonb_build_object('errcode', 'PP001', 'code', 'keys-changed', 'detail', jsonb_build_object('index', it.index));
        EXIT checks;
      END IF;

      IF cardinality(it.refs) > 0 THEN
        v_missing := ARRAY(SELECT x FROM unnest(it.refs) AS x WHERE NOT EXISTS (SELECT 1 FROM links l WHERE l.hash = x));
        IF cardinality(v_missing) > 0 THEN
          v_refusal := jsonb_build_object('errcode', 'PP422', 'code', 'unknown-ref', 'detail', jsonb_build_object('index', it.index, 'missing', to_jsonb(v_missing)));
          EXIT checks;
        END IF;
      END IF;

      IF coalesce(cardinality(it.prev), 0) = 0 THEN
        IF v_heads IS NOT NULL THEN
          v_refusal := jsonb_build_object('errcode', 'PP409', 'code', 'map-exists', 'detail', jsonb_build_object('index', it.index, 'heads', to_jsonb(v_heads)));
          EXIT checks;
        END IF;
        IF NOT it.starts THEN
          v_refusal := jsonb_build_object('errcode', 'PP422', 'code', 'cannot-start', 'detail', jsonb_build_object('index', it.index));
          EXIT checks;
        END IF;
        INSERT INTO maps (process, map_id, heads, links) VALUES (it.process, it.map_id, ARRAY[it.hash], 1) ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
          -- Another transaction started this map meanwhile; if it stored this very link, answer as it did.
          SELECT l.accepted_at, l.receipt_sig INTO v_stored FROM links l WHERE l.hash = it.hash;
          IF FOUND THEN
            v_replay := true;
            EXIT checks;
          END IF;
          v_refusal := jsonb_build_object('errcode', 'PP409', 'code', 'started-concurrently', 'detail', jsonb_build_object('index', it.index));
          EXIT checks;
        END IF;
      ELSE
        IF v_heads IS NULL THEN
          v_refusal := jsonb_build_object('errcode', 'PP422', 'code', 'no-map', 'detail', jsonb_build_object('index', it.index));
          EXIT checks;
        END IF;
        FOREACH v_p IN ARRAY it.prev LOOP
          SELECT l.step, l.process, l.map_id INTO r FROM links l WHERE l.hash = v_p;
          IF NOT FOUND OR r.process <> it.process OR r.map_id <> it.map_id THEN
            v_refusal := jsonb_build_object('errcode', 'PP422', 'code', 'prev-foreign', 'detail', jsonb_build_object('index', it.index, 'prev', v_p));
            EXIT checks;
          END IF;
        END LOOP;
        IF NOT it.forks AND NOT (cardinality(it.prev) = cardinality(v_heads) AND it.prev <@ v_heads) THEN
          v_refusal := jsonb_build_object('errcode', 'PP409', 'code', 'stale-head', 'detail', jsonb_build_object('index', it.index, 'heads', to_jsonb(v_heads)));
          EXIT checks;
        END IF;
        -- The transition from the steps of the links it names (one: the step just read).
        IF cardinality(it.prev) = 1 THEN
          v_steps := ARRAY[r.step];
        ELSE
          v_steps := ARRAY(SELECT l.step FROM links l WHERE l.hash = ANY(it.prev));
        END IF;
        FOREACH v_step IN ARRAY v_steps LOOP
          IF NOT it.after ? v_step THEN
            v_refusal := jsonb_build_object('errcode', 'PP422', 'code', 'may-not-follow', 'detail', jsonb_build_object('index', it.index, 'prevStep', v_step));
            EXIT checks;
          END IF;
          IF it.finals ? v_step THEN
            v_refusal := jsonb_build_object('errcode', 'PP422', 'code', 'after-final', 'detail', jsonb_build_object('index', it.index, 'prevStep', v_step));
            EXIT checks;
          END IF;
        END LOOP;
        -- The new heads: the old ones but those it names, then this link.
        FOREACH v_p IN ARRAY it.prev LOOP
          v_heads := array_remove(v_heads, v_p);
        END LOOP;
        UPDATE maps m SET heads = v_heads || it.hash, links = m.links + 1, updated_at = now()
          WHERE m.process = it.process AND m.map_id = it.map_id;
      END IF;
    END checks;

    IF v_replay THEN
      v_results := v_results || jsonb_build_object('hash', it.hash, 'created', false, 'accepted_at', v_stored.accepted_at, 'receipt_sig', v_stored.receipt_sig);
      CONTINUE;
    END IF;
    IF v_refusal IS NOT NULL THEN
      IF NOT independent THEN
        RAISE EXCEPTION USING ERRCODE = v_refusal->>'errcode', MESSAGE = v_refusal->>'code', DETAIL = (v_refusal->'detail')::text;
      END IF;
      v_results := v_results || jsonb_build_object('hash', it.hash, 'refused', v_refusal);
      CONTINUE;
    END IF;

    v_created := it.created_at::timestamptz; -- a bad instant fails here, at its link, as in migration 005
    v_pending := v_pending || it.ord::integer;
    v_results := v_results || jsonb_build_object('hash', it.hash, 'created', true, 'accepted_at', it.accepted_at, 'receipt_sig', it.receipt_sig);
  END LOOP;
  IF cardinality(v_pending) > 0 THEN
    PERFORM pop_append_store(items, v_pending);
  END IF;
  RETURN to_jsonb(v_results);
END $$;

-- The link hash's shape, checked as before with a cheaper expression: the bounded repetition
-- {64} made the regular expression about 8% of PostgreSQL's work per stored link (measured by
-- instruction counts); the length test and an unbounded class mean the same. Existing rows are
-- re-checked once, here.
ALTER TABLE links DROP CONSTRAINT links_hash_check;
ALTER TABLE links ADD CONSTRAINT links_hash_check CHECK (length(hash) = 64 AND hash ~ '^[0-9a-f]+$');
