-- Proof of Process: processes, participants and keys, API keys, links and their private data.
-- Ledger tables are append-only, enforced here rather than hoped for in application code.

CREATE FUNCTION pop_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'pop: % on % is not allowed: the ledger is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;

-- Process definitions (taxonomies): immutable versions 1, 2, ...
CREATE TABLE processes (
  id          text        NOT NULL,
  version     integer     NOT NULL CHECK (version >= 1),
  definition  jsonb       NOT NULL,
  hash        text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'), -- SHA-256(JCS(definition))
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, version)
);
CREATE TRIGGER processes_append_only BEFORE UPDATE OR DELETE ON processes
  FOR EACH ROW EXECUTE FUNCTION pop_forbid_change();

CREATE TABLE participants (
  id          text        PRIMARY KEY,
  name        text        NOT NULL,
  roles       text[]      NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER participants_append_only BEFORE UPDATE OR DELETE ON participants
  FOR EACH ROW EXECUTE FUNCTION pop_forbid_change();

CREATE TABLE participant_keys (
  participant_id text        NOT NULL REFERENCES participants (id),
  key_id         text        NOT NULL,
  alg            text        NOT NULL CHECK (alg IN ('ed25519', 'ecdsa-secp256k1', 'ecdsa-p256')),
  public_key     text        NOT NULL CHECK (public_key ~ '^[0-9a-f]+$'),
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz,
  revoked_at     timestamptz,
  revoke_reason  text,
  PRIMARY KEY (participant_id, key_id)
);
-- A key is never deleted and never changed, except that it may be revoked once.
CREATE FUNCTION pop_key_revoke_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR OLD.revoked_at IS NOT NULL OR NEW.revoked_at IS NULL
     OR (NEW.participant_id, NEW.key_id, NEW.alg, NEW.public_key, NEW.created_at, NEW.expires_at)
        IS DISTINCT FROM (OLD.participant_id, OLD.key_id, OLD.alg, OLD.public_key, OLD.created_at, OLD.expires_at) THEN
    RAISE EXCEPTION 'pop: keys can only be revoked, once' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER participant_keys_revoke_only BEFORE UPDATE OR DELETE ON participant_keys
  FOR EACH ROW EXECUTE FUNCTION pop_key_revoke_only();

-- Bearer API keys, stored as SHA-256 of the secret.
CREATE TABLE api_keys (
  id             text        PRIMARY KEY,
  secret_hash    text        NOT NULL UNIQUE CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
  role           text        NOT NULL CHECK (role IN ('admin', 'participant', 'auditor', 'regulator')),
  participant_id text        REFERENCES participants (id),
  label          text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  revoked_at     timestamptz,
  CHECK ((role = 'participant') = (participant_id IS NOT NULL))
);

-- Links: the public ledger. `canonical` is JCS(link), the exact bytes whose SHA-256 is `hash`; the
-- other columns are extracted from it for search. `seq` is the acceptance order.
CREATE TABLE links (
  seq              bigserial   PRIMARY KEY,
  hash             text        NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
  process          text        NOT NULL,
  process_version  integer     NOT NULL,
  map_id           text        NOT NULL,
  step             text        NOT NULL,
  author           text        NOT NULL REFERENCES participants (id),
  created_at       timestamptz NOT NULL,
  prev             text[]      NOT NULL,
  refs             text[]      NOT NULL,
  tags             text[]      NOT NULL,
  canonical        text        NOT NULL,
  signatures       jsonb       NOT NULL,
  accepted_at      text        NOT NULL, -- RFC 3339 exactly as signed in the receipt
  accepted_ts      timestamptz NOT NULL,
  receipt_sig      text        NOT NULL,
  FOREIGN KEY (process, process_version) REFERENCES processes (id, version)
);
CREATE TRIGGER links_append_only BEFORE UPDATE OR DELETE ON links
  FOR EACH ROW EXECUTE FUNCTION pop_forbid_change();
CREATE INDEX links_map ON links (process, map_id, seq);
CREATE INDEX links_author ON links (author, seq);
CREATE INDEX links_step ON links (process, step, seq);
CREATE INDEX links_accepted ON links (accepted_ts, seq);
CREATE INDEX links_tags ON links USING gin (tags);
CREATE INDEX links_prev ON links USING gin (prev);
CREATE INDEX links_refs ON links USING gin (refs);

-- The current head(s) of each map: the row lock here serializes appends to one map, so a stale
-- `prev` is a 409, never a silent fork.
CREATE TABLE maps (
  process     text        NOT NULL,
  map_id      text        NOT NULL,
  heads       text[]      NOT NULL,
  links       integer     NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (process, map_id)
);
CREATE INDEX maps_updated ON maps (process, updated_at DESC);

-- Private data, apart from the public tables: the disclosures (salt, field, value) of each link,
-- encrypted with AES-256-GCM under the data key. Erasure deletes the row (and so the salts).
CREATE TABLE private_data (
  link_hash   text        PRIMARY KEY REFERENCES links (hash),
  key_id      text        NOT NULL,   -- which data key encrypted it (for rotation)
  iv          bytea       NOT NULL,
  ciphertext  bytea       NOT NULL,
  tag         bytea       NOT NULL
);
