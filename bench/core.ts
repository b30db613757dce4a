// Core micro-benchmarks: the figures quoted in docs/performance.md and the foundation issue's note.
//   npm run bench [-- --quick]
// Each figure is the best of a few rounds (the machines here are shared and noisy); ratios measured
// side by side in one run are more trustworthy than absolute numbers.
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  type Alg,
  LinkTree,
  encodeHeader,
  leafHash,
  linkMessage,
  mineRange,
  nobleVerifier,
  publicKeyFor,
  secretKeyFrom,
  sign,
  verifyInclusion,
  type SignatureVerifier,
} from '../src/core/index.js';
import { nodeVerifier } from '../src/node/verifier.js';

const quick = process.argv.includes('--quick');
const rounds = quick ? 2 : 4;

function best(fn: () => number): number {
  let top = 0;
  for (let i = 0; i < rounds; i++) top = Math.max(top, fn());
  return top;
}

function perSecond(count: number, run: () => void): number {
  const t0 = performance.now();
  run();
  return count / ((performance.now() - t0) / 1000);
}

function msFor(run: () => void): number {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
}

const rows: [string, string][] = [];
const report = (name: string, value: string) => {
  rows.push([name, value]);
  console.log(`${name.padEnd(44)} ${value}`);
};

console.log(`Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}${quick ? ' (quick)' : ''}\n`);

// Merkle build (merkletreejs, RFC 6962 configuration)
for (const n of quick ? [1_000, 10_000] : [1_000, 10_000, 100_000]) {
  const hashes = Array.from({ length: n }, () => new Uint8Array(randomBytes(32)));
  let ms = Infinity;
  for (let i = 0; i < rounds; i++) ms = Math.min(ms, msFor(() => new LinkTree(hashes)));
  report(`merkle build, ${n.toLocaleString('en')} leaves`, `${ms.toFixed(1)} ms`);
}
{
  const hashes = Array.from({ length: 10_000 }, () => new Uint8Array(randomBytes(32)));
  const tree = new LinkTree(hashes);
  const proofs = Array.from({ length: 2_000 }, (_, i) => tree.inclusionProof((i * 7919) % 10_000));
  report('inclusion proofs from a 10k tree', `${best(() => perSecond(2_000, () => proofs.forEach((_, i) => tree.inclusionProof((i * 7919) % 10_000)))).toFixed(0)} /s`);
  report(
    'RFC 9162 inclusion verify (10k tree)',
    `${best(() => perSecond(2_000, () => proofs.forEach((p, i) => verifyInclusion((i * 7919) % 10_000, 10_000, leafHash(hashes[(i * 7919) % 10_000]!), p, tree.root)))).toFixed(0)} /s`,
  );
}

// Proof-of-work
{
  const header = encodeHeader({
    version: 1, height: 1, timestamp: 0, prevHash: '11'.repeat(32), linksRoot: '22'.repeat(32),
    leafCount: 1, historyRoot: '33'.repeat(32), difficulty: 256, nonce: 0,
  });
  const tries = quick ? 300_000 : 1_000_000;
  report('PoW hashes (midstate loop, one thread)', `${(best(() => perSecond(tries, () => mineRange(header, 0, tries))) / 1e6).toFixed(2)} M/s`);
}

// Signatures
const verifiers: SignatureVerifier[] = [nobleVerifier, nodeVerifier];
for (const alg of ['ed25519', 'ecdsa-secp256k1', 'ecdsa-p256'] as Alg[]) {
  const sk = secretKeyFrom(alg, (n) => new Uint8Array(randomBytes(n)));
  const pk = publicKeyFor(alg, sk);
  const msgs = Array.from({ length: 64 }, () => linkMessage(randomBytes(32).toString('hex')));
  const sigs = msgs.map((m) => sign(alg, sk, m));
  const rates = verifiers.map((v) => {
    v.verify(alg, pk, msgs[0]!, sigs[0]!); // warm up (noble builds precomputes on first use)
    const count = v === nobleVerifier ? (quick ? 64 : 256) : quick ? 1_024 : 4_096;
    return best(() => perSecond(count, () => {
      for (let i = 0; i < count; i++) if (!v.verify(alg, pk, msgs[i % 64]!, sigs[i % 64]!)) throw new Error('bad');
    }));
  });
  report(`${alg} verify, noble / node:crypto`, `${rates[0]!.toFixed(0)} / ${rates[1]!.toFixed(0)} per s (×${(rates[1]! / rates[0]!).toFixed(1)})`);
}

