-- Appending links in one round trip (issue 8): everything an append does under the map's lock, as
-- one function the service calls once per request, single link or batch. The service has already
-- checked what needs no database (shape, hash, schemas, disclosures, signatures, roles) and signed
-- the receipts; this function locks each link's map, answers a link already stored as it was
-- answered the first time, checks refs, prev and the transition against the process, and stores the
-- link, its place in the sealing queue, its encrypted private data and the map's new heads. Links
-- are taken in order, so a batch may chain its own links; all or nothing, like the transaction the
-- call runs in.
--
-- A refusal raises SQLSTATE 'PP409' (a stale head) or 'PP422' with the refusal's code as the
-- message and what the service needs to word it as JSON in the detail; 'PP001' says a signing key
-- the service took for valid (from its cache) is revoked: it checks again with fresh keys. The service turns them into
-- the same problem documents as before; nothing here holds private data (only hashes, steps, ids).
--
-- Each element of `items`: hash, process, version, map_id, step, author, created_at, prev, refs
-- (distinct), tags, canonical, signatures (jsonb), accepted_at (text, as signed), accepted_ts,
-- receipt_sig, keys ([participant, keyId] of each signature), private (null or {key_id, iv,
-- ciphertext, tag} in hex), starts (the step may start a map), after (steps it may follow), finals
-- (the process's final steps), forks (the process allows forks), index (its place in the request).
CREATE FUNCTION pop_append(items jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
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
  r          record;
  v_seq      bigint;
  v_results  jsonb[] := '{}';
  v_key      integer;
BEGIN
  -- Every map the call touches is locked first, in one global order (advisory locks keyed by the
  -- map), so two batches naming the same maps in different orders wait for each other instead of
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

    -- The map's row lock serializes appends to one map.
    SELECT m.heads INTO v_heads FROM maps m WHERE m.process = v_process AND m.map_id = v_map FOR UPDATE;

    SELECT l.accepted_at, l.receipt_sig INTO v_stored FROM links l WHERE l.hash = v_hash;
    IF FOUND THEN
      v_results := v_results || jsonb_build_object('hash', v_hash, 'created', false, 'accepted_at', v_stored.accepted_at, 'receipt_sig', v_stored.receipt_sig);
      CONTINUE;
    END IF;
    -- The service checked the signatures with keys it may have cached: none may be revoked by now.
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(it->'keys') AS k(v)
                 JOIN participant_keys pk ON pk.participant_id = k.v->>0 AND pk.key_id = k.v->>1
                WHERE pk.revoked_at IS NOT NULL AND pk.revoked_at <= (it->>'accepted_ts')::timestamptz) THEN
      RAISE EXCEPTION 'keys-changed' USING ERRCODE = 'PP001', DETAIL = jsonb_build_object('index', it->'index')::text;
    END IF;

    IF cardinality(v_refs) > 0 THEN
      v_missing := ARRAY(SELECT x FROM unnest(v_refs) AS x WHERE NOT EXISTS (SELECT 1 FROM links l WHERE l.hash = x));
      IF cardinality(v_missing) > 0 THEN
        RAISE EXCEPTION 'unknown-ref' USING ERRCODE = 'PP422', DETAIL = jsonb_build_object('index', it->'index', 'missing', to_jsonb(v_missing))::text;
      END IF;
    END IF;

    IF cardinality(v_prev) = 0 THEN
      IF v_heads IS NOT NULL THEN
        RAISE EXCEPTION 'map-exists' USING ERRCODE = 'PP409', DETAIL = jsonb_build_object('index', it->'index', 'heads', to_jsonb(v_heads))::text;
      END IF;
      IF NOT (it->>'starts')::boolean THEN
        RAISE EXCEPTION 'cannot-start' USING ERRCODE = 'PP422', DETAIL = jsonb_build_object('index', it->'index')::text;
      END IF;
      INSERT INTO maps (process, map_id, heads, links) VALUES (v_process, v_map, ARRAY[v_hash], 1) ON CONFLICT DO NOTHING;
      IF NOT FOUND THEN
        -- Another transaction started this map meanwhile; if it stored this very link, answer as it did.
        SELECT l.accepted_at, l.receipt_sig INTO v_stored FROM links l WHERE l.hash = v_hash;
        IF FOUND THEN
          v_results := v_results || jsonb_build_object('hash', v_hash, 'created', false, 'accepted_at', v_stored.accepted_at, 'receipt_sig', v_stored.receipt_sig);
          CONTINUE;
        END IF;
        RAISE EXCEPTION 'started-concurrently' USING ERRCODE = 'PP409', DETAIL = jsonb_build_object('index', it->'index')::text;
      END IF;
    ELSE
      IF v_heads IS NULL THEN
        RAISE EXCEPTION 'no-map' USING ERRCODE = 'PP422', DETAIL = jsonb_build_object('index', it->'index')::text;
      END IF;
      FOR r IN
        SELECT p.hash, l.step, l.process, l.map_id
          FROM unnest(v_prev) WITH ORDINALITY AS p(hash, ord) LEFT JOIN links l ON l.hash = p.hash ORDER BY p.ord
      LOOP
        IF r.step IS NULL OR r.process <> v_process OR r.map_id <> v_map THEN
          RAISE EXCEPTION 'prev-foreign' USING ERRCODE = 'PP422', DETAIL = jsonb_build_object('index', it->'index', 'prev', r.hash)::text;
        END IF;
      END LOOP;
      IF NOT (it->>'forks')::boolean AND NOT (cardinality(v_prev) = cardinality(v_heads) AND v_prev <@ v_heads) THEN
        RAISE EXCEPTION 'stale-head' USING ERRCODE = 'PP409', DETAIL = jsonb_build_object('index', it->'index', 'heads', to_jsonb(v_heads))::text;
      END IF;
      FOR r IN SELECT l.step FROM links l WHERE l.hash = ANY(v_prev) LOOP
        IF NOT (it->'after') ? r.step THEN
          RAISE EXCEPTION 'may-not-follow' USING ERRCODE = 'PP422', DETAIL = jsonb_build_object('index', it->'index', 'prevStep', r.step)::text;
        END IF;
        IF (it->'finals') ? r.step THEN
          RAISE EXCEPTION 'after-final' USING ERRCODE = 'PP422', DETAIL = jsonb_build_object('index', it->'index', 'prevStep', r.step)::text;
        END IF;
      END LOOP;
      UPDATE maps m SET heads = ARRAY(SELECT x FROM unnest(v_heads) AS x WHERE x <> ALL(v_prev)) || v_hash, links = m.links + 1, updated_at = now()
        WHERE m.process = v_process AND m.map_id = v_map;
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

-- A public key belongs to one participant (src/ledger/participants.ts checks it on every new key).
CREATE INDEX participant_keys_public_key ON participant_keys (public_key);
