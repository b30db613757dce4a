// Signature verification in the browser: WebCrypto (crypto.subtle) for Ed25519 and P-256 ECDSA
// where the browser has it and behaves, noble (core/noble-verifier.ts) otherwise and for secp256k1,
// which WebCrypto does not offer. Chosen per algorithm, once per worker.
//
// Same verdicts as noble by construction: core's pre-checks (core/signature.ts: lengths, canonical
// and not-small-order Ed25519 keys, S < L, 1 <= r,s < n with low-S, compressed keys on the curve)
// run before WebCrypto is asked, and what is left is the plain equation, which WebCrypto and noble
// compute alike — provided the browser's Ed25519 uses the cofactorless equation with R compared by
// encoding, as core's rule 3 says (BoringSSL in Chromium does; RFC 8032 allows the cofactored one,
// which accepts more). So "where it behaves" is checked, not assumed: before WebCrypto is used for an
// algorithm, it must give the expected verdict on probes that tell the equations apart (below); any
// error from WebCrypto on a key or signature that passed the pre-checks sends that one to noble.
//
// Protocol encodings to WebCrypto's: Ed25519 keys and signatures are raw bytes in both; a P-256 key
// is decompressed (noble's point code) to the 65-byte uncompressed point that 'raw' import takes, the
// 64-byte r‖s signature is WebCrypto's ECDSA format (IEEE P1363) as is, and WebCrypto hashes the
// message with SHA-256 itself, which is the protocol's ECDSA-SHA256 (docs/protocol.md §4).
import { p256 } from '@noble/curves/nist.js';
import type { AsyncSignatureVerifier } from '../../core/async-verify.js';
import { fromHex, toHex, utf8 } from '../../core/bytes.js';
import { nobleVerifier } from '../../core/noble-verifier.js';
import {
  type Alg,
  type SignatureVerifier,
  ALGS,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  ecdsaScalarsAcceptable,
  ed25519ScalarCanonical,
  publicKeyValid,
} from '../../core/signature.js';

export type Backend = 'WebCrypto' | 'noble';
/** What decided a verdict: a library, or core's pre-checks before any library. */
export type Decider = Backend | 'pre-check';
export type Backends = Record<Alg, Backend>;
export interface SignatureUse {
  alg: Alg;
  by: Decider;
  count: number;
}

type WebCryptoAlg = 'ed25519' | 'ecdsa-p256';
const WEBCRYPTO: Record<WebCryptoAlg, { importAs: Algorithm | EcKeyImportParams; verifyAs: Algorithm | EcdsaParams; raw: (publicKey: Uint8Array) => Uint8Array }> = {
  ed25519: { importAs: { name: 'Ed25519' }, verifyAs: { name: 'Ed25519' }, raw: (k) => k },
  'ecdsa-p256': {
    importAs: { name: 'ECDSA', namedCurve: 'P-256' },
    verifyAs: { name: 'ECDSA', hash: 'SHA-256' },
    raw: (k) => p256.Point.fromBytes(k).toBytes(false),
  },
};
const isWebCryptoAlg = (alg: Alg): alg is WebCryptoAlg => alg in WEBCRYPTO;

/**
 * Probes, all over the ASCII message "pop:probe:v1", with their verdict under core's rules (the
 * e2e test webcrypto.test.ts re-derives each with noble). The invalid Ed25519 ones are exactly what
 * a cofactored or point-comparing verifier accepts: a mixed-order key A + T (T of order 8), with
 * S = r + k·a for R = [r]B, so [S]B − [k](A+T) = R − [k]T ≠ R; an R moved by T and re-signed; and R a
 * non-canonical encoding of the identity (y = p + 1) with S = k·a.
 */
export const PROBES: Record<WebCryptoAlg, readonly { what: string; publicKey: string; sig: string; valid: boolean }[]> = {
  ed25519: [
    {
      what: 'a valid signature',
      publicKey: 'cf5a30f2ebe10273bde2f40a9045a7b8b60b93f3229181343689511426f641f2',
      sig: '5340bfa42eeb3e15478998367a458122a307fae4d59562c7bf2f128d460ec1f43037d3553985283f28008182f160a4bb9e9f39ff87291ee2d74ff15512a9fd09',
      valid: true,
    },
    {
      what: 'a mixed-order key (cofactored equation only)',
      publicKey: '5e28ee8f41372d67dd0dd94e4dcc741dd608c8d751f8997e02cc585b5d020031',
      sig: 'e6050df522ee2d93ab024997bee05d000a4c6dcf2f3acb8c6cc79499ed9422dbc8cac275e593ecf95f0a5029afe38380ca4cbdd708b58b5dabe2283980732402',
      valid: false,
    },
    {
      what: 'R + T, re-signed (cofactored equation only)',
      publicKey: 'cf5a30f2ebe10273bde2f40a9045a7b8b60b93f3229181343689511426f641f2',
      sig: '1c354c4c7a6de4bcb4fd275f391333dd9bf17d38b41332753f60cf56d5ef4fccfde80aff34f95e54f4a288107d745c2e0323de009d86b10a72616a4efbcc330a',
      valid: false,
    },
    {
      what: 'R a non-canonical identity (points compared, not encodings)',
      publicKey: 'cf5a30f2ebe10273bde2f40a9045a7b8b60b93f3229181343689511426f641f2',
      sig: 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7fa27a85c70a475542fb76682f5b69568ac65255158c0ef6c446681be8865f4506',
      valid: false,
    },
  ],
  'ecdsa-p256': [
    {
      what: 'a valid signature',
      publicKey: '02f0a4802513a0a25775c7e2b767797fe987bb554f59e7d3392808cd37e3147cef',
      sig: 'e3c7fbc6c42fcd68f4edb04c0507cf6e6ea5174391a52d8c5fc57f082f7463884df9613a57a5c6f5b49261a1c1b14756582e94858a35de0414697e12b4026ec9',
      valid: true,
    },
    {
      what: 'the same signature with its last bit flipped',
      publicKey: '02f0a4802513a0a25775c7e2b767797fe987bb554f59e7d3392808cd37e3147cef',
      sig: 'e3c7fbc6c42fcd68f4edb04c0507cf6e6ea5174391a52d8c5fc57f082f7463884df9613a57a5c6f5b49261a1c1b14756582e94858a35de0414697e12b4026ec8',
      valid: false,
    },
  ],
};
export const PROBE_MESSAGE = 'pop:probe:v1';

// TypeScript's DOM types want BufferSource backed by an ArrayBuffer; ours always are.
const buf = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;

async function importKey(subtle: SubtleCrypto, alg: WebCryptoAlg, publicKey: Uint8Array): Promise<CryptoKey> {
  return subtle.importKey('raw', buf(WEBCRYPTO[alg].raw(publicKey)), WEBCRYPTO[alg].importAs, false, ['verify']);
}

/** Whether WebCrypto has `alg` and gives the expected verdict on each probe. */
async function behaves(subtle: SubtleCrypto, alg: WebCryptoAlg): Promise<boolean> {
  try {
    const message = utf8(PROBE_MESSAGE);
    for (const p of PROBES[alg]) {
      const key = await importKey(subtle, alg, fromHex(p.publicKey));
      if ((await subtle.verify(WEBCRYPTO[alg].verifyAs, key, buf(fromHex(p.sig)), buf(message))) !== p.valid) return false;
    }
    return true;
  } catch {
    return false; // not supported (NotSupportedError), or not usable here
  }
}

/** Which backend verifies each algorithm, given the browser's crypto.subtle (undefined outside secure contexts). */
export async function detectBackends(subtle: SubtleCrypto | undefined): Promise<Backends> {
  const backends: Backends = { ed25519: 'noble', 'ecdsa-secp256k1': 'noble', 'ecdsa-p256': 'noble' };
  if (!subtle) return backends;
  for (const alg of ['ed25519', 'ecdsa-p256'] as const) if (await behaves(subtle, alg)) backends[alg] = 'WebCrypto';
  return backends;
}

/** A key after the pre-checks: refused, or usable (with its WebCrypto key, or null: noble verifies). */
type KeyEntry = { ok: false } | { ok: true; key: CryptoKey | null };
const KEY_CACHE_LIMIT = 4096;

/** One per worker: the backends chosen for this browser and the imported keys, shared by every verification. */
export class WebCryptoEngine {
  readonly backends: Promise<Backends>;
  readonly #subtle: SubtleCrypto | undefined;
  readonly #keys = new Map<string, KeyEntry | Promise<KeyEntry>>();

  constructor(subtle: SubtleCrypto | undefined, backends?: Backends) {
    this.#subtle = subtle;
    this.backends = backends ? Promise.resolve(backends) : detectBackends(subtle);
  }

  /** The key's entry: already settled when it was met (or prepared) before, else a promise. */
  key(alg: Alg, publicKey: Uint8Array): KeyEntry | Promise<KeyEntry> {
    const id = alg + toHex(publicKey);
    let entry = this.#keys.get(id);
    if (entry === undefined) {
      entry = this.#load(alg, publicKey).then((settled) => {
        if (this.#keys.get(id) === entry) this.#keys.set(id, settled);
        return settled;
      });
      if (this.#keys.size >= KEY_CACHE_LIMIT) this.#keys.delete(this.#keys.keys().next().value!);
      this.#keys.set(id, entry);
    }
    return entry;
  }

  async #load(alg: Alg, publicKey: Uint8Array): Promise<KeyEntry> {
    if (!publicKeyValid(alg, publicKey)) return { ok: false };
    const backends = await this.backends;
    if (!this.#subtle || !isWebCryptoAlg(alg) || backends[alg] !== 'WebCrypto') return { ok: true, key: null };
    try {
      return { ok: true, key: await importKey(this.#subtle, alg, publicKey) };
    } catch {
      return { ok: true, key: null }; // a key core accepts and WebCrypto does not: noble decides
    }
  }

  /**
   * The verdict and what decided it. When the key's entry is settled, crypto.subtle.verify is called
   * before this returns, so that WebCrypto works while the caller's synchronous run goes on.
   */
  check(alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<{ valid: boolean; by: Decider }> | { valid: boolean; by: Decider } {
    const refused = { valid: false, by: 'pre-check' as const };
    if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES[alg]) return refused;
    if (alg === 'ed25519' ? !ed25519ScalarCanonical(signature) : !ecdsaScalarsAcceptable(alg, signature)) return refused;
    const entry = this.key(alg, publicKey);
    const decide = (e: KeyEntry): Promise<{ valid: boolean; by: Decider }> | { valid: boolean; by: Decider } => {
      if (!e.ok) return refused;
      const noble = () => ({ valid: nobleVerifier.verify(alg, publicKey, message, signature), by: 'noble' as const });
      if (e.key === null || !this.#subtle || !isWebCryptoAlg(alg)) return noble();
      try {
        return this.#subtle
          .verify(WEBCRYPTO[alg].verifyAs, e.key, buf(signature), buf(message))
          .then((valid) => ({ valid, by: 'WebCrypto' as const }), noble);
      } catch {
        return noble();
      }
    };
    return entry instanceof Promise ? entry.then(decide) : decide(entry);
  }
}

/**
 * One verification's signature verifier on a shared engine: counts which backend decided each
 * verdict, for the report ("Ed25519: WebCrypto (12)"). `fallback` is the synchronous verifier core
 * falls back on (noble, counted too).
 */
export class BrowserVerifier implements AsyncSignatureVerifier {
  readonly name = 'webcrypto';
  readonly fallback: SignatureVerifier;
  readonly #engine: WebCryptoEngine;
  readonly #uses = new Map<string, SignatureUse>();

  constructor(engine: WebCryptoEngine) {
    this.#engine = engine;
    this.fallback = {
      name: 'noble',
      verify: (alg, publicKey, message, signature) => {
        const valid = nobleVerifier.verify(alg, publicKey, message, signature);
        this.#count(alg, 'noble');
        return valid;
      },
    };
  }

  #count(alg: Alg, by: Decider): void {
    const id = `${alg}/${by}`;
    const use = this.#uses.get(id);
    if (use) use.count++;
    else this.#uses.set(id, { alg, by, count: 1 });
  }

  async prepare(keys: readonly { alg: Alg; publicKey: Uint8Array }[]): Promise<void> {
    await Promise.all(keys.map((k) => this.#engine.key(k.alg, k.publicKey)));
  }

  /** The verdict with what decided it (the agreement tests look at both). */
  async decide(alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<{ valid: boolean; by: Decider }> {
    const result = await this.#engine.check(alg, publicKey, message, signature);
    this.#count(alg, result.by);
    return result;
  }

  verify(alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    return this.decide(alg, publicKey, message, signature).then((r) => r.valid);
  }

  /** Verdicts so far, per algorithm and decider, in the order of ALGS. */
  uses(): SignatureUse[] {
    return [...this.#uses.values()].sort((a, b) => ALGS.indexOf(a.alg) - ALGS.indexOf(b.alg) || a.by.localeCompare(b.by));
  }
}
