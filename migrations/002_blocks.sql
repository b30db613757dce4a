-- Sealing: blocks, the link → (height, leaf index) assignments, each block's Merkle levels (so proofs
-- need no rebuild), the history tree's perfect-subtree nodes, and the queue of links awaiting a block.

-- Links waiting to be sealed. A work queue, not ledger: rows leave it in the transaction that seals them.
CREATE TABLE unsealed_links (
  seq          bigint      PRIMARY KEY,
  link_hash    text        NOT NULL UNIQUE REFERENCES links (hash),
  accepted_ts  timestamptz NOT NULL
);
INSERT INTO unsealed_links (seq, link_hash, accepted_ts) SELECT seq, hash, accepted_ts FROM links;

CREATE TABLE blocks (
  height        bigint      PRIMARY KEY CHECK (height >= 0),
  hash          text        NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
  header        text        NOT NULL CHECK (length(header) = 272 AND header ~ '^[0-9a-f]+$'),
  prev_hash     text        NOT NULL,
  links_root    text        NOT NULL,
  leaf_count    integer     NOT NULL CHECK (leaf_count >= 0),
  history_root  text        NOT NULL,
  timestamp_ms  bigint      NOT NULL,
  difficulty    integer     NOT NULL,
  nonce         bigint      NOT NULL,
  notary_key_id text        NOT NULL,
  notary_sig    text        NOT NULL CHECK (notary_sig ~ '^[0-9a-f]{128}$'),
  sealed_at     timestamptz NOT NULL DEFAULT now(),
  -- the chain: each block names the one before it (genesis names zeros)
  CHECK ((height = 0) = (prev_hash = repeat('0', 64)))
);
CREATE TRIGGER blocks_append_only BEFORE UPDATE OR DELETE ON blocks
  FOR EACH ROW EXECUTE FUNCTION pop_forbid_change();

-- One row per sealed link: a link is in at most one block (primary key), a leaf slot holds one link.
CREATE TABLE link_seals (
  link_hash   text    PRIMARY KEY REFERENCES links (hash),
  height      bigint  NOT NULL REFERENCES blocks (height),
  leaf_index  integer NOT NULL CHECK (leaf_index >= 0),
  UNIQUE (height, leaf_index)
);
CREATE TRIGGER link_seals_append_only BEFORE UPDATE OR DELETE ON link_seals
  FOR EACH ROW EXECUTE FUNCTION pop_forbid_change();

-- Each level of a block's RFC 6962 tree as concatenated 32-byte hashes (level 0 = leaf hashes).
CREATE TABLE block_levels (
  height  bigint  NOT NULL REFERENCES blocks (height),
  level   integer NOT NULL CHECK (level >= 0),
  hashes  bytea   NOT NULL,
  PRIMARY KEY (height, level)
);
CREATE TRIGGER block_levels_append_only BEFORE UPDATE OR DELETE ON block_levels
  FOR EACH ROW EXECUTE FUNCTION pop_forbid_change();

-- The history tree's perfect subtrees: node (level, idx) covers blocks [idx·2^level, (idx+1)·2^level).
CREATE TABLE history_nodes (
  level  integer NOT NULL CHECK (level >= 0),
  idx    bigint  NOT NULL CHECK (idx >= 0),
  hash   bytea   NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (level, idx)
);
CREATE TRIGGER history_nodes_append_only BEFORE UPDATE OR DELETE ON history_nodes
  FOR EACH ROW EXECUTE FUNCTION pop_forbid_change();
