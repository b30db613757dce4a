// The in-browser verifier: a dedicated worker running src/core's verifyProof and verifyBundle (the
// very code `pop verify` runs) over a dropped file. Signatures are checked by WebCrypto where this
// browser has it for the algorithm and passes the probes of webcrypto.ts, by noble otherwise, through
// core's asynchronous seam (core/async-verify.ts); the report says which backend decided how many.
//
// It is served with its own CSP (src/http/console.ts): connect-src falls back to 'none', so the
// verifier cannot reach the network at all, and 'unsafe-eval' is allowed here only, because Ajv
// compiles the protocol's schemas and a bundle's step schemas to functions. The page itself keeps a
// CSP without eval.
import { verifyBundleAsync, verifyProofAsync } from '../../core/async-verify.js';
import { VerificationError } from '../../core/errors.js';
import type { VerifyRequest, VerifyResponse } from './protocol.js';
import { BrowserVerifier, WebCryptoEngine } from './webcrypto.js';

const post = (message: VerifyResponse) => self.postMessage(message);

// crypto.subtle exists only in secure contexts (https, or http on localhost): elsewhere noble verifies.
const engine = new WebCryptoEngine(self.crypto?.subtle);

function typeOf(value: unknown): string | null {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' ? (value as { type: string }).type : null;
}

async function verify(req: VerifyRequest): Promise<VerifyResponse> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  let value: unknown;
  try {
    value = JSON.parse(req.text);
  } catch (e) {
    return { id: req.id, kind: 'failed', ms: ms(), type: null, signatures: [], failure: { code: 'NOT_JSON', message: `the file is not JSON: ${(e as Error).message}` } };
  }
  const type = typeOf(value);
  const pins = req.notaryKeys?.length ? { notaryKeys: req.notaryKeys } : {};
  const verifier = new BrowserVerifier(engine);
  const signers = { verifier, fallback: verifier.fallback };
  try {
    if (type?.startsWith('pop/bundle/')) {
      const result = await verifyBundleAsync(value, {
        ...signers,
        ...pins,
        onProgress: (done, total) => post({ id: req.id, kind: 'progress', done, total }),
      });
      return { id: req.id, kind: 'bundle', ms: ms(), signatures: verifier.uses(), result };
    }
    const result = await verifyProofAsync(value, { ...signers, ...pins });
    return { id: req.id, kind: 'proof', ms: ms(), signatures: verifier.uses(), result };
  } catch (e) {
    const failure = e instanceof VerificationError ? { code: e.code, message: e.message } : { code: 'VERIFIER_ERROR', message: e instanceof Error ? e.message : String(e) };
    return { id: req.id, kind: 'failed', ms: ms(), type, signatures: verifier.uses(), failure };
  }
}

self.addEventListener('message', (event: MessageEvent<VerifyRequest>) => void verify(event.data).then(post));
void engine.backends.then((backends) => post({ id: 0, kind: 'ready', backends }));
