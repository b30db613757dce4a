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
DROP FUNCTION pop_append(jsonb);

CREATE FUNCTION pop_append(items jsonb, independent boolean DEFAULT false) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  it         jsonb;
  v_hash     text;
  v_process  text;
  v_map      text;
  v_prev     text[];
  v_refs     text[];
  v_heads    text[];
  v_missing  text[];
  v_stored   record;
  v_refusal  jsonb;
  v_replay   boolean;
  r          record;
  v_seq      bigint;
  v_results  jsonb[] := '{}';
  v_key      integer;
BEGIN
  -- Every map the call touches is locked first, in one global order (advisory locks keyed by the
  -- map), so two calls naming the same maps in different orders wait for each other instead of
  -- deadlocking on the maps' rows. (The two-key form: a space apart from the sealer's lock.)
  FOR v_key IN SELECT DISTINCT hashtext((e->>'process') || '/' || (e->>'map_id')) FROM jsonb_array_elements(items) AS e ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock(28784, v_key);
  END LOOP;

  FOR it IN SELECT value FROM jsonb_array_elements(items) LOOP
    v_hash := it->>'hash';
    v_process := it->>'process';
    v_map := it->>'map_id';
    v_prev := ARRAY(SELECT jsonb_array_elements_text(it->'prev'));
    v_refs := ARRAY(SELECT jsonb_array_elements_text(it->'refs'));
    v_refusal := NULL;
    v_replay := false;

    -- The checks, in migration 005's order; the first refusal leaves the block. Nothing is written
    -- before the block ends, except a new map's row (inserted only when every check has passed).
    <<checks>>
    BEGIN
      -- The map's row lock serializes appends to one map.
      SELECT m.heads INTO v_heads FROM maps m WHERE m.process = v_process AND m.map_id = v_map FOR UPDATE;

      SELECT l.accepted_at, l.receipt_sig INTO v_stored FROM links l WHERE l.hash = v_hash;
      IF FOUND THEN
        v_replay := true;
        EXIT checks;
      END IF;
      -- The service checked the signatures with keys it may have cached: none may be revoked by now.
      IF EXISTS (SELECT 1 FROM jsonb_array_elements(it->'keys') AS k(v)
                   JOIN participant_keys pk ON pk.participant_id = k.v->>0 AND pk.key_id = k.v->>1
                  WHERE pk.revoked_at IS NOT NULL AND pk.revoked_at <= (it->>'accepted_ts')::timestamptz) THEN
        v_refusal := jsonb_build_object('errcode', 'PP001', 'code', 'keys-changed', 'detail', jsonb_build_object('index', it->'index'));
        EXIT checks;
      END IF;

      IF cardinality(v_refs) > 0 THEN
        v_missing := ARRAY(SELECT x FROM unnest(v_refs) AS x WHERE NOT EXISTS (SELECT 1 FROM links l WHERE l.hash = x));
        IF cardinality(v_missing) > 0 THEN
          v_refusal := jsonb_build_object('errcode', 'PP422', 'code', 'unknown-ref', 'detail', jsonb_build_object('index', it->'index', 'missing', to_jsonb(v_missing)));
          EXIT checks;
        END IF;
      END IF;

      IF cardinality(v_prev) = 0 THEN
        IF v_heads IS NOT NULL THEN
          v_refusal := jsonb_build_object('errcode', 'PP409', 'code', 'map-exists', 'detail', jsonb_build_object('index', it->'index', 'heads', to_jsonb(v_heads)));
          EXIT checks;
        END IF;
        IF NOT (it->>'starts')::boolean THEN
          v_refusal := jsonb_build_object('errcode', 'PP422', 'code', 'cannot-start', 'detail', jsonb_build_object('index', it->'index'));
          EXIT checks;
        END IF;
        INSERT INTO maps (process, map_id, heads, links) VALUES (v_process, v_map, ARRAY[v_hash], 1) ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
          -- Another transaction started this map meanwhile; if it stored this very link, answer as it did.
          SELECT l.accepted_at, l.receipt_sig INTO v_stored FROM links l WHERE l.hash = v_hash;
          IF FOUND THEN
            v_replay := true;
            EXIT checks;
          END IF;
          v_refusal := jsonb_build_object('errcode', 'PP409', 'code', 'started-concurrently', 'detail', jsonb_build_object('index', it->'index'));
          EXIT checks;
        END IF;
      ELSE
        IF v_heads IS NULL THEN
          v_refusal := jsonb_build_object('errcode', 'PP422', 'code', 'no-map', 'detail', jsonb_build_object('index', it->'index'));
          EXIT checks;
        END IF;
        FOR r IN
          SELECT p.hash, l.step, l.process, l.map_id
            FROM unnest(v_prev) WITH ORDINALITY AS p(hash, ord) LEFT JOIN links l ON l.hash = p.hash ORDER BY p.ord
        LOOP
          IF r.step IS NULL OR r.process <> v_process OR r.map_id <> v_map THEN
            v_refusal := jsonb_build_object('errcode', 'PP422', 'code', 'prev-foreign', 'detail', jsonb_build_object('index', it->'index', 'prev', r.hash));
            EXIT checks;
          END IF;
        END LOOP;
        IF NOT (it->>'forks')::boolean AND NOT (cardinality(v_prev) = cardinality(v_heads) AND v_prev <@ v_heads) THEN
          v_refusal := jsonb_build_object('errcode', 'PP409', 'code', 'stale-head', 'detail', jsonb_build_object('index', it->'index', 'heads', to_jsonb(v_heads)));
          EXIT checks;
        END IF;
        FOR r IN SELECT l.step FROM links l WHERE l.hash = ANY(v_prev) LOOP
          IF NOT (it->'after') ? r.step THEN
            v_refusal := jsonb_build_object('errcode', 'PP422', 'code', 'may-not-follow', 'detail', jsonb_build_object('index', it->'index', 'prevStep', r.step));
            EXIT checks;
          END IF;
          IF (it->'finals') ? r.step THEN
            v_refusal := jsonb_build_object('errcode', 'PP422', 'code', 'after-final', 'detail', jsonb_build_object('index', it->'index', 'prevStep', r.step));
            EXIT checks;
          END IF;
        END LOOP;
        UPDATE maps m SET heads = ARRAY(SELECT x FROM unnest(v_heads) AS x WHERE x <> ALL(v_prev)) || v_hash, links = m.links + 1, updated_at = now()
          WHERE m.process = v_process AND m.map_id = v_map;
      END IF;
    END checks;

    IF v_replay THEN
      v_results := v_results || jsonb_build_object('hash', v_hash, 'created', false, 'accepted_at', v_stored.accepted_at, 'receipt_sig', v_stored.receipt_sig);
      CONTINUE;
    END IF;
    IF v_refusal IS NOT NULL THEN
      IF NOT independent THEN
        RAISE EXCEPTION USING ERRCODE = v_refusal->>'errcode', MESSAGE = v_refusal->>'code', DETAIL = (v_refusal->'detail')::text;
      END IF;
      v_results := v_results || jsonb_build_object('hash', v_hash, 'refused', v_refusal);
      CONTINUE;
    END IF;

    INSERT INTO links (hash, process, process_version, map_id, step, author, created_at, prev, refs, tags, canonical, signatures, accepted_at, accepted_ts, receipt_sig)
      VALUES (v_hash, v_process, (it->>'version')::integer, v_map, it->>'step', it->>'author', (it->>'created_at')::timestamptz, v_prev, v_refs,
              ARRAY(SELECT jsonb_array_elements_text(it->'tags')), it->>'canonical', it->'signatures', it->>'accepted_at',
              (it->>'accepted_ts')::timestamptz, it->>'receipt_sig')
      RETURNING seq INTO v_seq;
    -- Queued for sealing in the same transaction: an accepted link is never forgotten.
    INSERT INTO unsealed_links (seq, link_hash, accepted_ts) VALUES (v_seq, v_hash, (it->>'accepted_ts')::timestamptz);
    IF jsonb_typeof(it->'private') = 'object' THEN
      INSERT INTO private_data (link_hash, key_id, iv, ciphertext, tag)
        VALUES (v_hash, it->'private'->>'key_id', decode(it->'private'->>'iv', 'hex'), decode(it->'private'->>'ciphertext', 'hex'), decode(it->'private'->>'tag', 'hex'));
    END IF;
    v_results := v_results || jsonb_build_object('hash', v_hash, 'created', true, 'accepted_at', it->>'accepted_at', 'receipt_sig', it->>'receipt_sig');
  END LOOP;
  RETURN to_jsonb(v_results);
END $$;
