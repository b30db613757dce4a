// What the ledger needs from the outside world, passed in by the composition root (src/service).
import type { Pool } from 'pg';
import type { Alg, SignatureVerifier } from '../core/signature.js';

export interface Notary {
  keyId: string;
  publicKey: string; // hex, Ed25519
  /** Ed25519 signature (hex) over the given bytes. */
  sign(message: Uint8Array): string;
}

export interface DataCipher {
  keyId: string;
  encrypt(plaintext: string, aad: string): { iv: Buffer; ciphertext: Buffer; tag: Buffer };
  decrypt(box: { iv: Buffer; ciphertext: Buffer; tag: Buffer }, aad: string): string;
}

export type LedgerEvent =
  | { type: 'link.accepted'; linkHash: string; process: string; mapId: string; step: string; author: string; acceptedAt: string }
  | { type: 'block.sealed'; height: number; hash: string; leafCount: number; timestamp: number }
  | { type: 'anchor.confirmed'; height: number; blockHash: string; txid: string; network: string; bitcoinHeight: number };

export interface Limits {
  maxClockSkewMs: number;
  batchMax: number;
}

/** One link signature to check: the key (hex), the link's hash and the signature (hex). */
export interface LinkSignatureJob {
  alg: Alg;
  publicKey: string;
  linkHash: string;
  sig: string;
}

/** A verifier that can also check many link signatures off the calling thread (src/node/signature-pool.ts). */
export interface PooledVerifier extends SignatureVerifier {
  verifyLinkSignatures(jobs: readonly LinkSignatureJob[]): Promise<boolean[]>;
  /** The public key (hex) of the notary key the pool signs with, if it holds one. */
  readonly notaryPublicKey?: string | undefined;
  /** The notary's Ed25519 signatures (hex) over `messages`, made off the request thread. */
  signAsNotary?(messages: readonly Uint8Array[]): Promise<string[]>;
}

/** What the ledger reports of its own work, for metrics (src/http/metrics.ts); every method optional. */
export interface LedgerObserver {
  /**
   * One database call storing single appends gathered together, answered or failed: its links and
   * its seconds, from its parameters serialized to its answer (a wait for a pooled connection and the commit included).
   */
  appendGroup?(links: number, seconds: number): void;
  /** Links this server accepted (new ones, not re-posts) in one append, single or batch. */
  linksAccepted?(count: number): void;
}

export interface LedgerDeps {
  pool: Pool;
  /** A PooledVerifier checks link signatures off the request thread. */
  verifier: SignatureVerifier | PooledVerifier;
  notary: Notary;
  cipher: DataCipher;
  now: () => Date;
  limits: Limits;
  observer?: LedgerObserver;
}
