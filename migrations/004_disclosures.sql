-- Selective disclosure and erasure. A grant lets one reader's API key see named private fields of a
-- link (as disclosures it can check against the link's digests). An erasure destroys a link's
-- private data and salts and is recorded, append-only, with its reason.
CREATE TABLE disclosure_grants (
  link_hash      text        NOT NULL REFERENCES links (hash),
  field          text        NOT NULL,
  reader_key_id  text        NOT NULL REFERENCES api_keys (id),
  granted_by     text        NOT NULL,
  granted_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (link_hash, field, reader_key_id)
);
CREATE INDEX disclosure_grants_reader ON disclosure_grants (reader_key_id, link_hash);

CREATE TABLE erasures (
  link_hash  text        PRIMARY KEY REFERENCES links (hash),
  reason     text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
  erased_by  text        NOT NULL,
  erased_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER erasures_append_only BEFORE UPDATE OR DELETE ON erasures
  FOR EACH ROW EXECUTE FUNCTION pop_forbid_change();
