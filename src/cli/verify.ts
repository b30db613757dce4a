// `pop verify FILE`: offline verification of a proof or a bundle, with a human report or --json.
// Bundles of more than WORKER_THRESHOLD links have their link signatures checked on two worker
// threads (src/node/verify-worker.ts); a terminal gets a progress bar for them. The progress bar and
// the Esplora client load only when they are used (start-up time: src/cli/main.ts).
import { type BundleResult, type BundleLinkResult, verifyBundle } from '../core/bundle.js';
import { VerificationError } from '../core/errors.js';
import { PROOF_TYPE, type ProofResult, verifyProof } from '../core/proof.js';
import { nodeVerifier } from '../node/verifier.js';
import { nodeSha256 } from '../node/hash.js';
import { verifyBundleParallel } from '../node/verify-bundle.js';
import { EXIT, UsageError, exitCodeFor } from './exit.js';
import { readJsonFile } from './io.js';
import { ApiError } from './client.js';

export interface VerifyCliOptions {
  json?: boolean;
  notaryKey?: string[];
  /** Leading zero bits every block header must demand at least (a header recording less fails). */
  minDifficulty?: string;
  /** An Esplora API base to ask whether the anchor's Bitcoin block is on the best chain. */
  bitcoin?: string;
}

interface Report {
  ok: boolean;
  type: string | null;
  status: ProofResult['status'] | 'failed';
  links: number;
  anchored: number;
  failures: { code: string; message: string }[];
  result?: ProofResult;
  /** The one check that needs an outside source, made when --bitcoin is given. */
  bestChain?: { esplora: string; inBestChain: boolean; confirmations: number | null };
}

export async function runVerify(file: string, opts: VerifyCliOptions, out: (s: string) => void): Promise<number> {
  // The options first: with `-` the file is standard input, which should not be waited on for nothing.
  if (opts.minDifficulty !== undefined && !/^(0|[1-9][0-9]{0,2})$/.test(opts.minDifficulty)) throw new UsageError(`--min-difficulty ${JSON.stringify(opts.minDifficulty)} is not a whole number of bits from 0 to 256`);
  const minDifficulty = opts.minDifficulty === undefined ? 0 : Number(opts.minDifficulty);
  if (minDifficulty > 256) throw new UsageError(`--min-difficulty ${minDifficulty} is more than 256 bits`);
  for (const key of opts.notaryKey ?? []) {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new UsageError(`--notary-key ${key} is not 32 bytes of lowercase hex`);
  }
  const value = readJsonFile(file);
  const type = typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
    ? (value as { type: string }).type
    : null;
  if (type?.startsWith('pop/bundle/')) return runVerifyBundle(value, type, { ...opts, minDifficulty: String(minDifficulty) }, out);
  const report: Report = { ok: false, type, status: 'failed', links: 0, anchored: 0, failures: [] };
  let exit: number = EXIT.ok;
  try {
    const result = verifyProof(value, { verifier: nodeVerifier, minDifficulty, ...(opts.notaryKey?.length ? { notaryKeys: opts.notaryKey } : {}) });
    report.result = result;
    report.status = result.status;
    report.ok = result.ok;
    report.links = 1;
    report.anchored = result.anchored ? 1 : 0;
    // Exit 3 stays for checks this version cannot make; every proof it verifies is fully checked.
    if (!result.ok) exit = EXIT.notChecked;
    if (result.anchored && opts.bitcoin) report.bestChain = await bestChain(opts.bitcoin, result.anchored.bitcoinBlockHash);
    if (report.bestChain && !report.bestChain.inBestChain) {
      throw new VerificationError('ANCHOR_INVALID', `Bitcoin block ${result.anchored!.bitcoinBlockHash} is not on the best chain according to ${opts.bitcoin}`);
    }
  } catch (e) {
    if (!(e instanceof VerificationError)) throw e;
    report.ok = false;
    report.status = 'failed';
    report.failures.push({ code: e.code, message: e.message });
    exit = exitCodeFor(e.code);
  }
  out(opts.json ? JSON.stringify(report, null, 2) + '\n' : human(report));
  return exit;
}

function human(r: Report): string {
  const lines: string[] = [];
  if (r.failures.length) {
    for (const f of r.failures) lines.push(`✗ ${f.code}: ${f.message}`);
    lines.push(`FAILED (${r.type ?? 'unknown type'})`);
    return lines.join('\n') + '\n';
  }
  const res = r.result!;
  const when = new Date(res.block.timestamp).toISOString();
  lines.push(`${PROOF_TYPE} for link ${res.linkHash}`);
  lines.push(`  ✓ link      ${res.link.process} v${res.link.processVersion} · map ${res.link.mapId} · step ${res.link.step} · by ${res.link.author}`);
  for (const s of res.signers) lines.push(`  ✓ signature ${s.signer} (${s.keyId}, ${s.alg})`);
  lines.push(`  ✓ included  block ${res.block.height} (${res.block.hash}), sealed ${when}`);
  lines.push(`  ✓ work      ${res.block.difficulty} leading zero bits`);
  lines.push(`  ✓ notary    ${res.notary.keyId} ${res.notary.pinned ? '(pinned key)' : '(key taken from the file: pass --notary-key to pin it)'}`);
  if (res.history) lines.push(`  ✓ history   block ${res.block.height} is an ancestor of block ${res.history.height}`);
  for (const d of res.disclosed) lines.push(`  ✓ disclosed ${d.field} = ${JSON.stringify(d.value)}`);
  const a = res.anchored;
  if (a) {
    lines.push(`  ✓ anchored  in Bitcoin ${a.network} block ${a.bitcoinHeight} ${a.bitcoinBlockHash}, tx ${a.txid}`);
    if (a.network !== 'mainnet') {
      lines.push(`            (${a.network} headers can be mined cheaply: only a mainnet anchor carries real evidential weight)`);
    }
    const b = r.bestChain;
    if (b) lines.push(`  ✓ best chain: on ${b.esplora}'s best chain, ${b.confirmations ?? '?'} confirmations`);
    else lines.push('  ? best chain: not checked offline (pass --bitcoin <esplora-url> to check)');
  }
  lines.push(res.ok ? 'VERIFIED' : 'NOT FULLY CHECKED');
  return lines.join('\n') + '\n';
}

async function bestChain(esplora: string, blockHash: string): Promise<NonNullable<Report['bestChain']>> {
  if (!/^https?:\/\//.test(esplora)) throw new UsageError('--bitcoin must be an http(s) Esplora API base');
  const { Esplora, EsploraError } = await import('../anchor/esplora.js');
  const client = new Esplora(esplora);
  try {
    const status = await client.blockStatus(blockHash);
    const tip = status.in_best_chain && typeof status.height === 'number' ? await client.tipHeight() : undefined;
    return { esplora: client.baseUrl, inBestChain: status.in_best_chain, confirmations: tip === undefined ? null : tip - status.height! + 1 };
  } catch (e) {
    if (e instanceof EsploraError && e.kind === 'not-found') return { esplora: client.baseUrl, inBestChain: false, confirmations: null };
    if (e instanceof EsploraError) throw new ApiError(`--bitcoin: ${e.message}`, EXIT.unreachable);
    throw e;
  }
}

// --- bundles ---

/** From this many links on, link signatures are checked on worker threads. */
export const WORKER_THRESHOLD = 1000;
const WORKER_THREADS = 2;

interface BundleReport {
  ok: boolean;
  type: string;
  status: BundleResult['status'];
  links: number;
  verified: number;
  anchored: number;
  failures: BundleResult['failures'];
  result: BundleResult;
  /** The online check of each anchor's Bitcoin block, made when --bitcoin is given. */
  bestChain?: { bitcoinBlockHash: string; esplora: string; inBestChain: boolean; confirmations: number | null }[];
}

async function runVerifyBundle(value: unknown, type: string, opts: VerifyCliOptions, out: (s: string) => void): Promise<number> {
  const count = Array.isArray((value as { links?: unknown }).links) ? (value as { links: unknown[] }).links.length : 0;
  const notaryKeys = { minDifficulty: Number(opts.minDifficulty ?? 0), ...(opts.notaryKey?.length ? { notaryKeys: opts.notaryKey } : {}) };
  const cliProgress = process.stderr.isTTY && count >= WORKER_THRESHOLD ? (await import('cli-progress')).default : undefined;
  const bar =
    cliProgress
      ? new cliProgress.SingleBar({ format: 'verifying bundle [{bar}] {value}/{total} · {phase}', stream: process.stderr }, cliProgress.Presets.shades_classic)
      : undefined;
  let result: BundleResult;
  try {
    if (count >= WORKER_THRESHOLD) {
      // Progress counts links checked and signatures checked, against links + signatures.
      const signatures = (value as { links: { signatures?: unknown }[] }).links.reduce((n, l) => n + (Array.isArray(l?.signatures) ? l.signatures.length : 0), 0);
      bar?.start(count + signatures, 0, { phase: 'links and signatures' });
      result = await verifyBundleParallel(value, {
        ...notaryKeys,
        threads: WORKER_THREADS,
        onProgress: (p) => bar?.update(p.links + Math.min(p.signatures, signatures), { phase: `${p.links} links, ${p.signatures} signatures` }),
        onFallback: (e) => process.stderr.write(`pop: a signature worker failed (${e.message}); its share was checked on the main thread\n`),
      });
      bar?.update(count + signatures, { phase: 'done' });
    } else {
      result = verifyBundle(value, { ...notaryKeys, verifier: nodeVerifier, sha256: nodeSha256 });
    }
  } finally {
    bar?.stop();
  }

  const report: BundleReport = {
    ok: result.ok,
    type,
    status: result.status,
    links: result.links,
    verified: result.verified,
    anchored: result.anchored,
    failures: result.failures,
    result,
  };
  if (result.ok && opts.bitcoin && result.anchors.length) {
    report.bestChain = [];
    for (const a of result.anchors) {
      const b = await bestChain(opts.bitcoin, a.bitcoinBlockHash);
      report.bestChain.push({ bitcoinBlockHash: a.bitcoinBlockHash, ...b });
      if (!b.inBestChain) {
        report.failures.push({ code: 'ANCHOR_INVALID', message: `Bitcoin block ${a.bitcoinBlockHash} is not on the best chain according to ${opts.bitcoin}` });
      }
    }
    report.ok = report.failures.length === 0;
    report.status = report.ok ? 'verified' : 'failed';
  }
  out(opts.json ? JSON.stringify(report, null, 2) + '\n' : humanBundle(report));
  return report.ok ? EXIT.ok : exitCodeFor(report.failures[0]!.code);
}

const iso = (ms: number) => new Date(ms).toISOString();
const short = (hex: string) => `${hex.slice(0, 12)}…`;

function humanBundle(report: BundleReport): string {
  const r = report.result;
  const lines: string[] = [];
  if (!r.sharedOk || !r.scope || !r.notary) {
    // A shared part failed: nothing can be said about the links.
    for (const f of report.failures) lines.push(`✗ ${f.code}: ${f.message}`);
    lines.push(`FAILED (${report.type})`);
    return lines.join('\n') + '\n';
  }
  const scope = 'from' in r.scope ? `links accepted from ${r.scope.from} to ${r.scope.to}` : r.scope.mapId !== undefined ? `map ${r.scope.mapId}` : 'all maps';
  lines.push(`${report.type} · process ${r.scope.process} · ${scope} · created ${r.createdAt}`);
  lines.push(`  ✓ notary    ${r.notary.keyId} ${r.notary.pinned ? '(pinned key)' : '(key taken from the file: pass --notary-key to pin it)'}`);
  lines.push(`  ✓ manifest  ${r.links} link${r.links === 1 ? '' : 's'}, signed by the notary`);
  for (const p of r.processes) lines.push(`  ✓ process   ${p.id} v${p.version} (definition sha256 ${short(p.hash)})`);
  if (r.blocks.length) {
    lines.push(`  ✓ blocks    ${r.blocks.length} (heights ${r.blocks[0]!.height}–${r.blocks[r.blocks.length - 1]!.height}): layout, proof-of-work, notary signatures`);
  }
  for (const a of r.anchors) {
    lines.push(`  ✓ anchor    block ${a.height} in Bitcoin ${a.network} block ${a.bitcoinHeight} ${short(a.bitcoinBlockHash)} (${iso(a.bitcoinTime * 1000)}), tx ${short(a.txid)}`);
    if (a.network !== 'mainnet') lines.push(`            (${a.network} headers can be mined cheaply: only a mainnet anchor carries real evidential weight)`);
  }
  if (r.anchors.length) {
    if (report.bestChain) {
      for (const b of report.bestChain) {
        lines.push(`  ${b.inBestChain ? '✓' : '✗'} best chain: ${short(b.bitcoinBlockHash)} ${b.inBestChain ? `on ${b.esplora}'s best chain, ${b.confirmations ?? '?'} confirmations` : `not on ${b.esplora}'s best chain`}`);
      }
    } else lines.push('  ? best chain: not checked offline (pass --bitcoin <esplora-url> to check)');
  }
  const blockTime = new Map(r.blocks.map((b) => [b.height, b.timestamp]));
  const disclosed = new Map<string, string[]>();
  for (const d of r.disclosed) disclosed.set(d.linkHash, [...(disclosed.get(d.linkHash) ?? []), `${d.field} = ${JSON.stringify(d.value)}`]);
  const mapIds = Object.keys(r.maps);
  const stepWidth = Math.max(4, ...Object.values(r.maps).flatMap((m) => m.map((l) => l.step.length)));
  const signerWidth = Math.max(7, ...Object.values(r.maps).flatMap((m) => m.map((l) => l.signers.join(' + ').length)));
  for (const mapId of mapIds) {
    lines.push('', `map ${mapId}`);
    for (const l of r.maps[mapId]!) lines.push(linkLine(l, stepWidth, signerWidth, blockTime), ...(disclosed.get(l.linkHash) ?? []).map((d) => `      disclosed ${d}`));
  }
  lines.push('');
  const maps = `${mapIds.length} map${mapIds.length === 1 ? '' : 's'}`;
  if (report.ok) lines.push(`VERIFIED: ${r.links} link${r.links === 1 ? '' : 's'} in ${maps}, ${r.anchored} anchored`);
  else {
    const others = report.failures.filter((f) => f.linkHash === undefined);
    for (const f of others) lines.push(`✗ ${f.code}: ${f.message}`);
    lines.push(`FAILED: ${r.verified} of ${r.links} links verified (${maps}); first failure ${report.failures[0]!.code}`);
  }
  return lines.join('\n') + '\n';
}

function linkLine(l: BundleLinkResult, stepWidth: number, signerWidth: number, blockTime: Map<number, number>): string {
  const signers = l.signers.join(' + ').padEnd(signerWidth);
  const block = `block ${l.height}`;
  if (!l.ok) return `  ✗ ${l.step.padEnd(stepWidth)}  ${signers}  ${block}  ${l.failure!.code}: ${l.failure!.message}`;
  const sealed = blockTime.get(l.height);
  const anchored = l.anchoredAt
    ? `anchored ${iso(l.anchoredAt.bitcoinTime * 1000)} (${l.anchoredAt.network} block ${l.anchoredAt.bitcoinHeight})`
    : 'not anchored';
  return `  ✓ ${l.step.padEnd(stepWidth)}  ${signers}  ${block}${sealed === undefined ? '' : ` (${iso(sealed)})`}  ${anchored}`;
}
