// `npm run bench -- --profile append|batch|proof`: the service (`pop serve`) under `node --cpu-prof`
// while single appends (or 1,000-link batches, or proof fetches) saturate it, then the hot spots of
// the measured run (samples outside it are left out): self time by
// function and by package or source file, and inclusive time of the functions that own the most.
// The .cpuprofile stays in the output directory (open it in Chrome DevTools or speedscope).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openDatabases } from './database.js';
import { REPO, startServiceProcess } from './processes.js';
import type { Progress } from './progress.js';
import { type Window, batchAppends, durations, latencyAtRate, monotonicUs, proofFetches, saturate, setUp, waitUntilSealed } from './service-phases.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface HotSpot {
  name: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  file: string;
  /** What the load achieved during the window, e.g. "appends: 234 /s". */
  measured?: string;
  window: Window | null;
  totalMs: number;
  idlePercent: number;
  /** Busy time by part of the service; the parts add up to 100%. */
  parts: HotSpot[];
  selfByFunction: HotSpot[];
  selfByPlace: HotSpot[];
  inclusive: HotSpot[];
}

const repoUrl = `file://${REPO}`;

/**
 * Busy time split into parts that add up to 100%: each sample goes to the first part (in this
 * order) that owns a frame anywhere on its stack, so a socket write counts for PostgreSQL when the
 * pg client made it and for HTTP when a reply did.
 */
const PARTS: [string, (f: CallFrame) => boolean][] = [
  ['sealer: proof-of-work', (f) => (f.functionName === 'mine' || f.functionName === 'mineRange') && f.url.endsWith('src/core/pow.ts')],
  ['sealer: the rest (tree, commit, polling)', (f) => /src\/ledger\/(sealer|chain)\.ts$|src\/core\/merkle\.ts$|merkletreejs/.test(f.url)],
  ['request logging (pino)', (f) => /node_modules\/(pino|sonic-boom)/.test(f.url)],
  ['PostgreSQL client (pg, pg-protocol, pg-pool, their socket I/O)', (f) => /node_modules\/pg(-[a-z]+)?\//.test(f.url)],
  // libsodium's addon calls have no frame of their own: their time is the self time of the callers.
  ['Ed25519 verify (libsodium, node:crypto)', (f) => f.functionName === 'verifyOneShot' || f.url.endsWith('/src/node/verifier.ts')],
  ['notary receipt signature (libsodium, node:crypto)', (f) => f.functionName === 'signOneShot' || f.url.endsWith('/src/node/notary.ts')],
  ['AES-GCM of private data', (f) => f.url.startsWith('node:internal/crypto/cipher')],
  ['JCS, SHA-256, disclosures, link checks (core)', (f) => /node_modules\/(canonicalize|@noble\/hashes)|src\/core\//.test(f.url)],
  ['Ajv (compiling schemas; compiled validators have no source URL)', (f) => f.url.includes('node_modules/ajv')],
  ['intake and proof logic (src/ledger, with the validators it calls)', (f) => f.url.includes('/src/ledger/')],
  ['HTTP: node:http, Fastify, plugins, body parsing', (f) => /node:internal\/(http|_http)|node:_http|node_modules\/(fastify|@fastify|find-my-way|helmet|light-my-request)|\/src\/http\//.test(f.url)],
  ['garbage collector', (f) => f.functionName === '(garbage collector)'],
];

function place(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  return url.startsWith(repoUrl) ? url.slice(repoUrl.length) : url;
}

function functionKey(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  return `${name} ${place(frame)}:${frame.lineNumber + 1}`;
}

/** Hot spots of the samples taken in `window` (monotonic µs; the whole profile without one). */
export function summarize(file: string, window?: Window, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    if (window && (t < window.startUs || t > window.endUs)) return;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000);
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  const selfFn = new Map<string, number>();
  const selfPlace = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const parts = new Map<string, number>();
  let idle = 0;
  for (const [id, ms] of self) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') idle += ms;
    add(selfFn, functionKey(frame), ms);
    add(selfPlace, place(frame), ms);
    // Inclusive: each function once per stack (recursion counted once).
    const seen = new Set<string>();
    const stack: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      if (f.functionName === '(root)') continue;
      stack.push(f);
      const key = functionKey(f);
      if (seen.has(key)) continue;
      seen.add(key);
      add(inclusive, key, ms);
    }
    if (frame.functionName !== '(idle)') add(parts, PARTS.find(([, owns]) => stack.some(owns))?.[0] ?? 'other (node internals, timers, promises…)', ms);
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>, skipIdle = true, n = top): HotSpot[] =>
    [...m.entries()]
      .filter(([k]) => !skipIdle || k !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), percent: Number(((100 * ms) / busy).toFixed(1)) }));
  return {
    file,
    window: window ?? null,
    totalMs: Math.round(total),
    idlePercent: Number(((100 * idle) / total).toFixed(1)),
    parts: rank(parts, true, PARTS.length + 1),
    selfByFunction: rank(selfFn),
    selfByPlace: rank(selfPlace),
    inclusive: rank(inclusive),
  };
}

function print(s: ProfileSummary): void {
  const table = (title: string, rows: HotSpot[]) => {
    process.stdout.write(`\n${title} (% of busy time)\n`);
    for (const r of rows) process.stdout.write(`${r.percent.toFixed(1).padStart(6)}%  ${String(r.ms).padStart(7)} ms  ${r.name}\n`);
  };
  process.stdout.write(`\n${s.file}\n${s.measured ?? ''}; ${s.totalMs} ms of samples in the measured run, ${s.idlePercent}% idle\n`);
  table('busy time by part (adds up to 100%)', s.parts);
  table('self time by function', s.selfByFunction);
  table('self time by package / source file', s.selfByPlace);
  table('inclusive time', s.inclusive);
}

export const PROFILE_KINDS = ['append', 'batch', 'proof', 'latency'] as const;

/**
 * `append`, `batch`, `proof`: the service at saturation. `latency`: single appends at a fixed
 * offered `rate` (the open loop of appendP99Ms), where the cost per append is not the saturated one.
 */
export async function runProfile(kind: string, quick: boolean, outDir: string | undefined, progress: Progress, settings: Record<string, string> = {}, rate?: number): Promise<void> {
  if (!PROFILE_KINDS.includes(kind as (typeof PROFILE_KINDS)[number])) throw new Error(`--profile takes ${PROFILE_KINDS.join(', ')}`);
  if (kind === 'latency' && rate === undefined) throw new Error('--profile latency needs --rate N (appends a second)');
  const dir = resolve(outDir ?? mkdtempSync(join(tmpdir(), 'pop-profile-')));
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'pop-bench-run-'));
  const d = durations(quick);
  const dbs = await openDatabases((m) => progress.note(m));
  const t0 = Date.now();
  let window: Window | undefined;
  let measured: string | undefined;
  try {
    const adminKey = randomBytes(24).toString('hex');
    const service = await startServiceProcess({ databaseUrl: dbs.url, dataDir: work, adminKey, settings, nodeFlags: ['--cpu-prof', '--cpu-prof-dir', dir] });
    try {
      const setup = await setUp(service.url, adminKey);
      const apiKey = await setup.participantKey();
      if (kind === 'latency') {
        const startUs = monotonicUs();
        const r = await latencyAtRate(progress, { url: service.url, databaseUrl: dbs.url, signer: setup.signer, apiKey, rate: rate!, d });
        window = { startUs, endUs: monotonicUs() };
        measured = `single appends at ${rate}/s offered: p50 ${r.latency.p50.toFixed(1)} ms, p99 ${r.latency.p99.toFixed(1)} ms`;
      } else if (kind === 'append') {
        const r = await saturate(progress, { label: 'appends', url: service.url, path: '/v1/links', signer: setup.signer, apiKey, d });
        window = r.window;
        measured = `single appends: ${r.perSec.toFixed(0)} /s`;
      } else {
        const batch = await batchAppends(progress, { url: service.url, signer: setup.signer, apiKey, d });
        window = batch.window;
        measured = `batch appends: ${batch.perSec.toFixed(0)} links/s`;
        if (kind === 'proof') {
          await waitUntilSealed(progress, dbs.url);
          const r = await proofFetches(progress, { url: service.url, apiKey: setup.auditorKey, hashes: batch.hashes, d });
          window = r.window;
          measured = `proofs: ${r.perSec.toFixed(0)} /s`;
        }
      }
      setup.admin.close();
    } finally {
      await service.stop();
    }
  } finally {
    await dbs.close();
    rmSync(work, { recursive: true, force: true });
  }
  // The main thread's profile is the largest (the loader-hooks thread writes a small one too).
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= t0);
  if (!files.length) throw new Error(`no .cpuprofile in ${dir}`);
  const main = files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
  const summary = { measured: measured ?? '', settings, ...summarize(main, window) };
  writeFileSync(join(dir, `summary-${kind}.json`), JSON.stringify(summary, null, 2) + '\n');
  print(summary);
  process.stderr.write(`\nprofile and summary in ${dir}\n`);
}
