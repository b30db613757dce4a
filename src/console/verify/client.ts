// The page's side of the verifier worker: one worker per tab, started ahead of use (so its script is
// fetched before any file is dropped), requests matched to answers by id.
import type { VerifyOutcome, VerifyRequest, VerifyResponse } from './protocol.js';
import type { Backends } from './webcrypto.js';

// Trusted Types (the page's CSP requires them for script URLs): one policy that admits only the
// worker named in index.html. Declared here because TypeScript's DOM library does not have them yet.
interface TrustedTypePolicyFactory {
  createPolicy(name: string, rules: { createScriptURL(url: string): string }): { createScriptURL(url: string): unknown };
}
declare global {
  interface Window {
    trustedTypes?: TrustedTypePolicyFactory;
  }
}

let worker: Worker | null = null;
let ready: Promise<Backends> | null = null;
let nextId = 1;
const pending = new Map<number, { resolve: (r: VerifyOutcome) => void; progress?: ((done: number, total: number) => void) | undefined }>();

function workerUrl(): string {
  const url = document.querySelector<HTMLMetaElement>('meta[name="pop-verify-worker"]')?.content;
  if (!url || !/^\/assets\/verify-worker-[A-Za-z0-9]+\.js$/.test(url)) throw new Error('the verifier worker is not named in the page');
  return url;
}

let policy: { createScriptURL(url: string): unknown } | null = null;
function scriptUrl(url: string): string | URL {
  if (!window.trustedTypes) return url;
  policy ??= window.trustedTypes.createPolicy('pop-verifier', {
    createScriptURL: (u) => {
      if (u !== workerUrl()) throw new TypeError(`not the verifier worker: ${u}`);
      return u;
    },
  });
  return policy.createScriptURL(url) as string;
}

/** Starts the worker (fetching its script); resolves when it is ready to verify, with the backend of each algorithm. */
export function preloadVerifier(): Promise<Backends> {
  if (ready) return ready;
  ready = new Promise<Backends>((resolve, reject) => {
    worker = new Worker(scriptUrl(workerUrl()), { name: 'pop-verifier' });
    worker.addEventListener('error', (e) => reject(new Error(`the verifier could not start: ${e.message}`)));
    worker.addEventListener('message', (event: MessageEvent<VerifyResponse>) => {
      const m = event.data;
      if (m.kind === 'ready') return resolve(m.backends);
      const p = pending.get(m.id);
      if (!p) return;
      if (m.kind === 'progress') return p.progress?.(m.done, m.total);
      pending.delete(m.id);
      p.resolve(m);
    });
  });
  return ready;
}

export async function verifyText(text: string, opts: { notaryKeys?: string[]; onProgress?: (done: number, total: number) => void } = {}): Promise<VerifyOutcome> {
  await preloadVerifier();
  const id = nextId++;
  const request: VerifyRequest = { id, text, ...(opts.notaryKeys?.length ? { notaryKeys: opts.notaryKeys } : {}) };
  return new Promise((resolve) => {
    pending.set(id, { resolve, progress: opts.onProgress });
    worker!.postMessage(request);
  });
}
