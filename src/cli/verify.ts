// `pop verify FILE`: offline verification of a proof, with a human report or --json.
import { VerificationError } from '../core/errors.js';
import { PROOF_TYPE, type ProofResult, verifyProof } from '../core/proof.js';
import { nodeVerifier } from '../node/verifier.js';
import { EXIT, UsageError, exitCodeFor } from './exit.js';
import { readJsonFile } from './io.js';
import { Esplora, EsploraError } from '../anchor/esplora.js';
import { ApiError } from './client.js';

export interface VerifyCliOptions {
  json?: boolean;
  notaryKey?: string[];
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
  const value = readJsonFile(file);
  const type = typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
    ? (value as { type: string }).type
    : null;
  if (type === 'pop/bundle/v1') throw new UsageError('bundle verification is not available in this version (proofs only)');
  for (const key of opts.notaryKey ?? []) {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new UsageError(`--notary-key ${key} is not 32 bytes of lowercase hex`);
  }
  const report: Report = { ok: false, type, status: 'failed', links: 0, anchored: 0, failures: [] };
  let exit: number = EXIT.ok;
  try {
    const result = verifyProof(value, { verifier: nodeVerifier, ...(opts.notaryKey?.length ? { notaryKeys: opts.notaryKey } : {}) });
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
