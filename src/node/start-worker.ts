// Starts a worker thread on a module of this directory, from dist/ (compiled .js) or from src/
// (TypeScript, under tsx: tests, benchmarks, `node --import tsx src/cli/main.ts`). On Node 20,
// `execArgv: ['--import', 'tsx']` does not register tsx before the worker's module loads, so from
// source a one-line bootstrap registers tsx's loader and then imports the module (the approach of
// src/node/verify-bundle.ts).
import { Worker } from 'node:worker_threads';

/** A worker running `./<name>.js` (or `./<name>.ts` from source) of src/node, with `workerData`. */
export function startModuleWorker(name: string, workerData: unknown): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  if (!fromSource) return new Worker(entry, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}
