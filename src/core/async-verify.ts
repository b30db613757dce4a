// Proof and bundle verification with an asynchronous signature backend (WebCrypto in browsers).
// verifyProof and verifyBundle are synchronous and ask a SignatureVerifier for each signature;
// crypto.subtle answers with promises. Nothing here re-implements a check: both functions run the
// synchronous verifiers, through the seam src/node/verify-bundle.ts uses for worker threads.
//
// The first run does not wait for the backend: every signature it meets is handed to the backend at
// once (a bundle's link signatures even before the run starts, from bundleSignatureJobs, through
// BundleVerifyOptions.knownSignature) and assumed valid. The backend works meanwhile (WebCrypto off
// the calling thread). When every verdict is in, the first run stands if each signature it assumed
// valid is valid; otherwise the file is verified again with the real verdicts. Verification is
// deterministic in the verdicts it gets, so either way the result is exactly that of the
// synchronous verifier given the backend's verdicts — and the backend applies core's pre-checks
// (signature.ts) before any library, so those are noble's verdicts.
import { type BundleResult, type BundleVerifyOptions, bundleSignatureJobs, verifyBundle } from './bundle.js';
import { fromHex, toHex } from './bytes.js';
import { type ProofResult, type VerifyOptions, verifyProof } from './proof.js';
import { type Alg, type SignatureVerifier, isAlg, linkMessage } from './signature.js';

/** A signature verifier that answers later. It resolves true or false, and never rejects on hostile input. */
export interface AsyncSignatureVerifier {
  readonly name: string;
  verify(alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** Called before a run with the keys it will meet, so that their import does not wait for the run. */
  prepare?(keys: readonly { alg: Alg; publicKey: Uint8Array }[]): Promise<void>;
}

export interface AsyncVerifyOptions {
  verifier: AsyncSignatureVerifier;
  /** Answers, synchronously, a check the second run meets that the first did not (none, in practice). */
  fallback: SignatureVerifier;
}

const callKey = (alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) =>
  `${alg}:${toHex(publicKey)}:${toHex(message)}:${toHex(signature)}`;

/**
 * The first run's verifier: each check goes to the backend at once and is answered "valid". Then
 * settle() says whether all those answers were right, and gives the second run's verifier, which
 * answers each of those checks with the backend's verdict.
 */
class Optimistic implements SignatureVerifier {
  readonly name: string;
  readonly #backend: AsyncSignatureVerifier;
  readonly #fallback: SignatureVerifier;
  readonly #calls = new Map<string, Promise<boolean>>();

  constructor({ verifier, fallback }: AsyncVerifyOptions) {
    this.name = verifier.name;
    this.#backend = verifier;
    this.#fallback = fallback;
  }

  verify(alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    const id = callKey(alg, publicKey, message, signature);
    if (!this.#calls.has(id)) this.#calls.set(id, settled(this.#backend, this.#fallback, alg, publicKey, message, signature));
    return true;
  }

  async settle(): Promise<{ held: boolean; verifier: SignatureVerifier }> {
    const ids = [...this.#calls.keys()];
    const verdicts = await Promise.all(this.#calls.values());
    const table = new Map(ids.map((id, i) => [id, verdicts[i]!]));
    const fallback = this.#fallback;
    return {
      held: verdicts.every(Boolean),
      verifier: {
        name: this.name,
        verify: (alg, publicKey, message, signature) => table.get(callKey(alg, publicKey, message, signature)) ?? fallback.verify(alg, publicKey, message, signature),
      },
    };
  }
}

/** The backend's verdict; should it break its promise and reject, the fallback's. */
function settled(backend: AsyncSignatureVerifier, fallback: SignatureVerifier, alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    return backend.verify(alg, publicKey, message, signature).catch(() => fallback.verify(alg, publicKey, message, signature));
  } catch {
    return Promise.resolve(fallback.verify(alg, publicKey, message, signature));
  }
}

/** verifyProof with an asynchronous signature backend (see the top of this file). Throws VerificationError as verifyProof does. */
export async function verifyProofAsync(value: unknown, opts: Omit<VerifyOptions, 'verifier'> & AsyncVerifyOptions): Promise<ProofResult> {
  const { verifier, fallback, ...rest } = opts;
  await verifier.prepare?.(proofKeys(value));
  const optimistic = new Optimistic({ verifier, fallback });
  let first: { result: ProofResult } | { error: unknown };
  try {
    first = { result: verifyProof(value, { ...rest, verifier: optimistic }) };
  } catch (error) {
    first = { error };
  }
  const { held, verifier: real } = await optimistic.settle();
  if (!held) return verifyProof(value, { ...rest, verifier: real });
  if ('result' in first) return first.result;
  throw first.error;
}

/** verifyBundle with an asynchronous signature backend (see the top of this file). Never throws a VerificationError. */
export async function verifyBundleAsync(
  value: unknown,
  opts: Omit<BundleVerifyOptions, 'verifier' | 'knownSignature'> & AsyncVerifyOptions,
): Promise<BundleResult> {
  const { verifier, fallback, ...rest } = opts;
  const jobs = bundleSignatureJobs(value);
  await verifier.prepare?.(bundleKeys(value, jobs));
  // Started now: the backend checks the link signatures while the first run goes on.
  const pending = jobs.map((j) => settled(verifier, fallback, j.alg, fromHex(j.publicKey), linkMessage(j.linkHash), fromHex(j.sig)));

  // By position: links[link].signatures[signature] → index in jobs.
  const at: number[][] = [];
  jobs.forEach((j, i) => ((at[j.link] ??= [])[j.signature] = i));
  const assumed: number[] = [];
  const optimistic = new Optimistic({ verifier, fallback });
  const first = verifyBundle(value, {
    ...rest,
    verifier: optimistic,
    knownSignature: (link, signature) => {
      const i = at[link]?.[signature];
      if (i === undefined) return undefined;
      assumed.push(i);
      return { ...jobs[i]!, valid: true };
    },
  });
  const [verdicts, { held, verifier: real }] = await Promise.all([Promise.all(pending), optimistic.settle()]);
  if (held && assumed.every((i) => verdicts[i])) return first;
  return verifyBundle(value, {
    ...rest,
    verifier: real,
    knownSignature: (link, signature) => {
      const i = at[link]?.[signature];
      return i === undefined ? undefined : { ...jobs[i]!, valid: verdicts[i]! };
    },
  });
}

// --- the keys a file names, read loosely (verification checks them; this only warms a cache) ---

type Key = { alg: Alg; publicKey: Uint8Array };
const HEX_KEY = /^(?:[0-9a-f]{64}|0[23][0-9a-f]{64})$/;

function looseKey(alg: unknown, publicKey: unknown): Key | undefined {
  return isAlg(alg) && typeof publicKey === 'string' && HEX_KEY.test(publicKey) ? { alg, publicKey: fromHex(publicKey) } : undefined;
}

function notaryKey(value: unknown): Key | undefined {
  const notary = (value as { notary?: { publicKey?: unknown } } | null)?.notary;
  return typeof notary === 'object' && notary !== null ? looseKey('ed25519', notary.publicKey) : undefined;
}

function unique(keys: (Key | undefined)[]): Key[] {
  const seen = new Map<string, Key>();
  for (const k of keys) if (k) seen.set(`${k.alg}:${toHex(k.publicKey)}`, k);
  return [...seen.values()];
}

function proofKeys(value: unknown): Key[] {
  const keys = (value as { keys?: unknown } | null)?.keys;
  const listed = Array.isArray(keys) ? keys.map((k: { alg?: unknown; publicKey?: unknown } | null) => (typeof k === 'object' && k !== null ? looseKey(k.alg, k.publicKey) : undefined)) : [];
  return unique([notaryKey(value), ...listed]);
}

function bundleKeys(value: unknown, jobs: readonly { alg: Alg; publicKey: string }[]): Key[] {
  const distinct = new Map(jobs.map((j) => [`${j.alg}:${j.publicKey}`, j]));
  return unique([notaryKey(value), ...[...distinct.values()].map((j) => looseKey(j.alg, j.publicKey))]);
}
