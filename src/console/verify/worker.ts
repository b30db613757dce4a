// The in-browser verifier: a dedicated worker running src/core's verifyProof and verifyBundle (the
// very code `pop verify` runs) over a dropped file, with the portable noble signature verifier.
//
// It is served with its own CSP (src/http/console.ts): connect-src falls back to 'none', so the
// verifier cannot reach the network at all, and 'unsafe-eval' is allowed here only, because Ajv
// compiles the protocol's schemas and a bundle's step schemas to functions. The page itself keeps a
// CSP without eval.
import { verifyBundle } from '../../core/bundle.js';
import { VerificationError } from '../../core/errors.js';
import { nobleVerifier } from '../../core/noble-verifier.js';
import { verifyProof } from '../../core/proof.js';
import type { VerifyRequest, VerifyResponse } from './protocol.js';

const post = (message: VerifyResponse) => self.postMessage(message);

function typeOf(value: unknown): string | null {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' ? (value as { type: string }).type : null;
}

function verify(req: VerifyRequest): VerifyResponse {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  let value: unknown;
  try {
    value = JSON.parse(req.text);
  } catch (e) {
    return { id: req.id, kind: 'failed', ms: ms(), type: null, failure: { code: 'NOT_JSON', message: `the file is not JSON: ${(e as Error).message}` } };
  }
  const type = typeOf(value);
  const pins = req.notaryKeys?.length ? { notaryKeys: req.notaryKeys } : {};
  try {
    if (type?.startsWith('pop/bundle/')) {
      const result = verifyBundle(value, {
        verifier: nobleVerifier,
        ...pins,
        onProgress: (done, total) => post({ id: req.id, kind: 'progress', done, total }),
      });
      return { id: req.id, kind: 'bundle', ms: ms(), result };
    }
    const result = verifyProof(value, { verifier: nobleVerifier, ...pins });
    return { id: req.id, kind: 'proof', ms: ms(), result };
  } catch (e) {
    if (e instanceof VerificationError) return { id: req.id, kind: 'failed', ms: ms(), type, failure: { code: e.code, message: e.message } };
    return { id: req.id, kind: 'failed', ms: ms(), type, failure: { code: 'VERIFIER_ERROR', message: e instanceof Error ? e.message : String(e) } };
  }
}

self.addEventListener('message', (event: MessageEvent<VerifyRequest>) => post(verify(event.data)));
post({ id: 0, kind: 'ready' });
