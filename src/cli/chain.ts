// `pop chain verify`: audits the whole chain of the service at POP_URL from genesis to tip, trusting
// nothing it serves: every header decoded and checked (height, previous hash, proof-of-work, the
// notary's signature), every block's link hashes re-hashed into its root, every history root
// recomputed, and consistency proofs from several sizes to the tip verified.
import cliProgress from 'cli-progress';
import { fromHex, toHex } from '../core/bytes.js';
import { VerificationError, fail } from '../core/errors.js';
import { blockHash, decodeHeader, hasProofOfWork, leadingZeroBits } from '../core/header.js';
import { HistoryAccumulator } from '../core/history.js';
import { LinkTree } from '../core/merkle.js';
import { verifyConsistency } from '../core/rfc6962.js';
import { blockMessage } from '../core/signature.js';
import { nodeVerifier } from '../node/verifier.js';
import { api } from './client.js';
import { EXIT, UsageError, exitCodeFor } from './exit.js';

interface BlockRecord {
  height: number;
  hash: string;
  header: string;
  notarySig: string;
}

export interface ChainReport {
  ok: boolean;
  blocks: number;
  links: number;
  tip: { height: number; hash: string } | null;
  notary: { publicKey: string; pinned: boolean };
  consistencyChecks: number;
  failure?: { code: string; height?: number; message: string };
}

export async function verifyChain(opts: { notaryKey?: string; json?: boolean }): Promise<number> {
  if (opts.notaryKey !== undefined && !/^[0-9a-f]{64}$/.test(opts.notaryKey)) throw new UsageError('--notary-key must be 64 lowercase hex characters');
  const notary = (await api<{ publicKey: string }>('GET', '/v1/notary', undefined, { auth: false })).body.publicKey;
  const report: ChainReport = { ok: false, blocks: 0, links: 0, tip: null, notary: { publicKey: notary, pinned: opts.notaryKey !== undefined }, consistencyChecks: 0 };
  let tipHeight = -1;
  try {
    tipHeight = (await api<BlockRecord>('GET', '/v1/blocks/tip')).body.height;
  } catch (e) {
    if ((e as { status?: number }).status !== 404) throw e;
  }
  const bar = process.stderr.isTTY && !opts.json
    ? new cliProgress.SingleBar({ format: 'verifying blocks [{bar}] {value}/{total} · {links} links · {eta_formatted} left', stream: process.stderr }, cliProgress.Presets.shades_classic)
    : undefined;
  bar?.start(tipHeight + 1, 0, { links: 0 });
  const history = new HistoryAccumulator();
  const roots: Uint8Array[] = [history.root()];
  let prevHash = '0'.repeat(64);
  let height: number | undefined;
  try {
    if (opts.notaryKey !== undefined && opts.notaryKey !== notary) fail('NOTARY_KEY_MISMATCH', `the service's notary key ${notary} is not the pinned key`);
    let cursor: string | undefined;
    do {
      const page = await api<{ items: BlockRecord[]; next: string | null }>('GET', `/v1/blocks?order=asc&limit=200${cursor ? `&cursor=${cursor}` : ''}`);
      for (const b of page.body.items) {
        height = b.height;
        const bytes = fromHex(b.header);
        const fields = decodeHeader(bytes);
        const hash = toHex(blockHash(bytes));
        if (fields.height !== report.blocks || b.height !== report.blocks) fail('HEADER_INVALID', `expected block ${report.blocks}, got ${fields.height}`);
        if (hash !== b.hash) fail('HEADER_INVALID', `block ${b.height}: the stated hash is not the header's hash`);
        if (fields.prevHash !== prevHash) fail('HEADER_INVALID', `block ${b.height} does not point at block ${b.height - 1}`);
        if (!hasProofOfWork(blockHash(bytes), fields.difficulty)) fail('POW_INSUFFICIENT', `block ${b.height}: ${leadingZeroBits(blockHash(bytes))} leading zero bits < ${fields.difficulty}`);
        if (!nodeVerifier.verify('ed25519', fromHex(notary), blockMessage(hash), fromHex(b.notarySig))) fail('NOTARY_SIGNATURE_INVALID', `block ${b.height}: the notary signature does not verify`);
        if (fields.historyRoot !== toHex(history.root())) fail('HISTORY_INVALID', `block ${b.height}: history root is not the root over blocks 0..${b.height - 1}`);
        const links: string[] = [];
        let linkCursor: string | undefined;
        do {
          const lp = await api<{ items: string[]; next: string | null }>('GET', `/v1/blocks/${b.height}/links?limit=10000${linkCursor ? `&cursor=${linkCursor}` : ''}`);
          links.push(...lp.body.items);
          linkCursor = lp.body.next ?? undefined;
        } while (linkCursor);
        if (links.length !== fields.leafCount) fail('INCLUSION_INVALID', `block ${b.height}: ${links.length} links served, header says ${fields.leafCount}`);
        if (toHex(new LinkTree(links.map((l) => fromHex(l))).root) !== fields.linksRoot) fail('INCLUSION_INVALID', `block ${b.height}: its links do not hash to its links root`);
        history.append(fromHex(hash));
        roots.push(history.root());
        prevHash = hash;
        report.blocks++;
        report.links += links.length;
        bar?.update(report.blocks, { links: report.links });
      }
      cursor = page.body.next ?? undefined;
    } while (cursor);
    height = undefined;
    const n = report.blocks;
    const sizes = new Set<number>();
    for (let m = 1; m < n; m *= 2) sizes.add(m);
    if (n > 1) sizes.add(n - 1);
    for (const m of sizes) {
      const c = (await api<{ rootFrom: string; rootTo: string; proof: string[] }>('GET', `/v1/history/consistency?from=${m}&to=${n}`)).body;
      if (c.rootFrom !== toHex(roots[m]!) || c.rootTo !== toHex(roots[n]!)) fail('CONSISTENCY_INVALID', `consistency ${m}→${n}: the served roots are not the recomputed ones`);
      verifyConsistency(m, n, c.proof.map((h) => fromHex(h)), roots[m]!, roots[n]!);
      report.consistencyChecks++;
    }
    report.ok = true;
    report.tip = n > 0 ? { height: n - 1, hash: prevHash } : null;
  } catch (e) {
    if (!(e instanceof VerificationError)) throw e;
    report.failure = { code: e.code, ...(height !== undefined ? { height } : {}), message: e.message };
  } finally {
    bar?.stop();
  }
  if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else if (report.ok) {
    process.stdout.write(
      [
        `✓ ${report.blocks} blocks, ${report.links} links: headers, proof-of-work, notary signatures, link roots and history roots hold`,
        `✓ ${report.consistencyChecks} consistency proofs to the tip verify`,
        `  tip: ${report.tip ? `block ${report.tip.height} ${report.tip.hash}` : 'no blocks yet'}`,
        `  notary: ${notary}${report.notary.pinned ? ' (pinned)' : ' (from the service: pass --notary-key to pin it)'}`,
        'CHAIN VERIFIED',
      ].join('\n') + '\n',
    );
  } else process.stdout.write(`✗ ${report.failure!.code}: ${report.failure!.message}\nCHAIN FAILED\n`);
  return report.ok ? EXIT.ok : exitCodeFor(report.failure!.code as Parameters<typeof exitCodeFor>[0]);
}
