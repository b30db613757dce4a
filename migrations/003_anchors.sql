-- Bitcoin anchors: each row is one transaction committing to a block hash, persisted before it is
-- broadcast, with its SPV evidence once confirmed. Never two in flight (partial unique index).
CREATE TABLE anchors (
  id                 bigserial   PRIMARY KEY,
  network            text        NOT NULL,
  block_height       bigint      NOT NULL REFERENCES blocks (height),
  block_hash         text        NOT NULL,
  txid               text        NOT NULL UNIQUE CHECK (txid ~ '^[0-9a-f]{64}$'),
  raw_tx             text        NOT NULL,
  fee_sats           bigint      NOT NULL,
  vsize              integer     NOT NULL,
  status             text        NOT NULL CHECK (status IN ('signed', 'broadcast', 'confirmed', 'dropped', 'failed')),
  created_at         timestamptz NOT NULL DEFAULT now(),
  broadcast_at       timestamptz,
  confirmed_at       timestamptz,
  bitcoin_block_hash text,
  bitcoin_height     integer,
  bitcoin_header     text,
  merkle_pos         integer,
  merkle_siblings    text[],
  detail             text,
  CHECK (status <> 'confirmed' OR (bitcoin_block_hash IS NOT NULL AND bitcoin_header IS NOT NULL AND merkle_siblings IS NOT NULL))
);
CREATE UNIQUE INDEX anchors_one_in_flight ON anchors ((true)) WHERE status IN ('signed', 'broadcast');
CREATE INDEX anchors_confirmed ON anchors (block_height) WHERE status = 'confirmed';

-- What the anchorer last saw, for /v1/anchors/status on any server.
CREATE TABLE anchor_state (
  id          integer     PRIMARY KEY CHECK (id = 1),
  network     text        NOT NULL,
  address     text        NOT NULL,
  state       text        NOT NULL, -- ok | insufficient-funds | unreachable | rejected | waiting
  detail      text,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
