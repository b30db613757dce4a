-- The live event stream across servers (docs/api.md "Events"). Several `pop serve` may share the
-- database: one seals and anchors, all accept links, and a client of any of them hears everything.
-- So the events come from the database, not from the server that did the work: these triggers send
-- each accepted link, sealed block and confirmed anchor as a NOTIFY on channel pop_events, in the
-- transaction that writes it. PostgreSQL delivers a notification if and only if its transaction
-- commits, in commit order, to every session listening, and each server listens while a client
-- holds its event stream open (src/ledger/events.ts).
--
-- A notification's payload is a JSON array of events, in the order written, each with the fields of
-- LedgerEvent (src/ledger/ports.ts): public metadata only, never private data. A payload must stay
-- under 8,000 bytes, so a statement writing many rows (a batch of links) sends several.

-- Sends the events (JSON texts), as few notifications as fit. An event over the limit (impossible
-- for rows the service writes: a link's event is at most ≈ 560 bytes, its names bounded by
-- schemas/link.json) is left out with a warning rather than failing the write.
CREATE FUNCTION pop_notify_events(events text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_event text;
  v_chunk text := '';
BEGIN
  FOREACH v_event IN ARRAY events LOOP
    IF octet_length(v_event) > 7990 THEN
      RAISE WARNING 'pop_events: an event of % bytes is too long to send', octet_length(v_event);
      CONTINUE;
    END IF;
    IF v_chunk <> '' AND octet_length(v_chunk) + 1 + octet_length(v_event) > 7990 THEN
      PERFORM pg_notify('pop_events', '[' || v_chunk || ']');
      v_chunk := '';
    END IF;
    v_chunk := CASE WHEN v_chunk = '' THEN v_event ELSE v_chunk || ',' || v_event END;
  END LOOP;
  IF v_chunk <> '' THEN
    PERFORM pg_notify('pop_events', '[' || v_chunk || ']');
  END IF;
END $$;

-- Once per statement, not per row: a batch's thousand links cost one trigger call.
CREATE FUNCTION pop_notify_links() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pop_notify_events(ARRAY(
    SELECT json_build_object('type', 'link.accepted', 'linkHash', hash, 'process', process, 'mapId', map_id, 'step', step,
                             'author', author, 'acceptedAt', accepted_at)::text
      FROM new_links ORDER BY seq));
  RETURN NULL;
END $$;
CREATE TRIGGER links_notify AFTER INSERT ON links REFERENCING NEW TABLE AS new_links
  FOR EACH STATEMENT EXECUTE FUNCTION pop_notify_links();

CREATE FUNCTION pop_notify_blocks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pop_notify_events(ARRAY(
    SELECT json_build_object('type', 'block.sealed', 'height', height, 'hash', hash, 'leafCount', leaf_count, 'timestamp', timestamp_ms)::text
      FROM new_blocks ORDER BY height));
  RETURN NULL;
END $$;
CREATE TRIGGER blocks_notify AFTER INSERT ON blocks REFERENCING NEW TABLE AS new_blocks
  FOR EACH STATEMENT EXECUTE FUNCTION pop_notify_blocks();

-- An anchor is confirmed when its evidence is recorded: the first time, or again in another Bitcoin
-- block after a reorganisation.
CREATE FUNCTION pop_notify_anchor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pop_notify_events(ARRAY[json_build_object('type', 'anchor.confirmed', 'height', NEW.block_height, 'blockHash', NEW.block_hash,
                                                    'txid', NEW.txid, 'network', NEW.network, 'bitcoinHeight', NEW.bitcoin_height)::text]);
  RETURN NULL;
END $$;
CREATE TRIGGER anchors_notify AFTER UPDATE ON anchors FOR EACH ROW
  WHEN (NEW.status = 'confirmed' AND (OLD.status <> 'confirmed' OR OLD.bitcoin_block_hash IS DISTINCT FROM NEW.bitcoin_block_hash))
  EXECUTE FUNCTION pop_notify_anchor();
