// verifyBundleLinksPerSec: `pop verify` (the installed command: dist/, rebuilt first when src/ is
// newer) on a bundle of the sealed links of a time range, timed as a command. The process start
// (Node and the CLI's entry) is measured on its own with `pop --version` and reported beside the
// figure, which excludes it. Both are the best of two runs: on a shared machine noise only ever adds
// time.
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { REPO } from './processes.js';

export interface Download {
  file: string;
  links: number;
  bytes: number;
  seconds: number;
}

/** GET /v1/bundles for a time range of one process, streamed to a file. */
export async function downloadBundle(baseUrl: string, apiKey: string, scope: { process: string; from: string; to: string }, file: string, links: number): Promise<Download> {
  const q = new URLSearchParams(scope);
  const t0 = performance.now();
  const res = await fetch(`${baseUrl}/v1/bundles?${q}`, { headers: { authorization: `Bearer ${apiKey}` } });
  if (!res.ok || !res.body) throw new Error(`GET /v1/bundles: ${res.status} ${(await res.text()).slice(0, 300)}`);
  await pipeline(Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]), createWriteStream(file));
  return { file, links, bytes: statSync(file).size, seconds: (performance.now() - t0) / 1000 };
}

interface Run {
  code: number | null;
  seconds: number;
  stdout: string;
  stderr: string;
}

/** The newest modification time under a directory (recursively). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/** dist/ as `npm run build` makes it, rebuilt when missing or older than src/. */
function ensureBuilt(): void {
  const entry = join(REPO, 'dist/cli/main.js');
  if (existsSync(entry) && newest(join(REPO, 'dist')) >= newest(join(REPO, 'src'))) return;
  execFileSync('npm', ['run', '-s', 'build'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
}

function pop(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(REPO, 'bin/pop.js'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, seconds: (performance.now() - t0) / 1000, stdout, stderr }));
  });
}

export type VerifyOutcome =
  | { available: true; ok: true; links: number; seconds: number; startupSeconds: number; linksPerSec: number }
  | { available: true; ok: false; detail: string }
  | { available: false; detail: string };

export async function verifyBundle(file: string, links: number, notaryKey: string): Promise<VerifyOutcome> {
  ensureBuilt();
  await pop(['--version']); // warms the file cache
  const startup = Math.min((await pop(['--version'])).seconds, (await pop(['--version'])).seconds);
  const args = ['verify', '--json', '--notary-key', notaryKey, file];
  const run = await pop(args);
  const said = `${run.stderr}${run.stdout}`.trim().split('\n').slice(0, 3).join(' ').slice(0, 300);
  if (run.code === 2 && /not available|bundle/i.test(run.stderr)) return { available: false, detail: said };
  if (run.code !== 0) return { available: true, ok: false, detail: `exit ${run.code}: ${said}` };
  const again = await pop(args);
  const wall = again.code === 0 ? Math.min(run.seconds, again.seconds) : run.seconds;
  const seconds = Math.max(1e-3, wall - startup);
  return { available: true, ok: true, links, seconds: wall, startupSeconds: startup, linksPerSec: links / seconds };
}

export const bundleFile = (dir: string) => join(dir, 'bundle.json');
