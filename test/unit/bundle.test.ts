// Bundles (docs/protocol.md §10): the golden bundles and their verdicts; every one-character change
// of every hash, key and signature and every +1 of every number anywhere in the golden bundle; link
// sets tampered with (swapped, dropped, duplicated, reordered, with and without a re-signed
// manifest); disclosures; the process rules re-run on custom maps (forks, restarts, transitions);
// the parallel verification of the CLI; hostile step schemas (RE2 patterns, bounds); verification
// with an asynchronous signature backend (the browser's seam); and `pop verify` on bundles.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  type Alg,
  type BundleResult,
  type BundleV1,
  type Link,
  type ProcessDefinition,
  type SignatureVerifier,
  LinkTree,
  ProvenTree,
  VERIFICATION_CODES,
  VerificationError,
  bundleDigest,
  bundleManifestMessage,
  bundleSignatureJobs,
  bundleVerdict,
  compareInstants,
  fromHex,
  leafHash,
  linkHash,
  makeDisclosure,
  nobleVerifier,
  parseTransaction,
  sha256,
  toHex,
  utf8,
  type AsyncSignatureVerifier,
  type ProofResult,
  MAX_DEFINITION_CHARS,
  verifyBundle,
  verifyBundleAsync,
  verifyInclusion,
  verifyProof,
  verifyProofAsync,
} from '../../src/core/index.js';
import { LedgerError } from '../../src/ledger/errors.js';
import { checkDefinition, compileProcess } from '../../src/ledger/process-rules.js';
import { nodeVerifier } from '../../src/node/verifier.js';
import { nodeSha256 } from '../../src/node/hash.js';
import { SignatureQueue, verifyBundleParallel, verifySignaturesInWorkers } from '../../src/node/verify-bundle.js';
import { runVerify } from '../../src/cli/verify.js';
import { exitCodeFor } from '../../src/cli/exit.js';
import { type BuildLink, type Signer, buildBundle, signManifest } from '../../scripts/bundle-builder.js';
import { GOLDEN_PROCESS } from '../../scripts/golden.js';

const golden = join(fileURLToPath(import.meta.url), '../../golden');
const read = (name: string): unknown => JSON.parse(readFileSync(join(golden, name), 'utf8'));
const load = (name: string): BundleV1 => read(`bundles/${name}`) as BundleV1;
const keys = read('keys.json') as {
  participants: { participant: string; keyId: string; alg: Alg; secretKey: string; publicKey: string }[];
  notary: { keyId: string; secretKey: string; publicKey: string };
};
const NOTARY = keys.notary.publicKey;
const NOTARY_SECRET = fromHex(keys.notary.secretKey);
const opts = { verifier: nodeVerifier, notaryKeys: [NOTARY] };
const verdict = (bundle: unknown, o: Parameters<typeof verifyBundle>[1] = opts) => bundleVerdict(verifyBundle(bundle, o));
const flipChar = (c: string) => '0123456789abcdef'[parseInt(c, 16) ^ 1]!;

describe('the golden bundle', () => {
  test.each([nobleVerifier, nodeVerifier])('verifies, per map and per link ($name)', (verifier) => {
    const r = verifyBundle(load('order-42.json'), { verifier, notaryKeys: [NOTARY] });
    expect(r.failures).toEqual([]);
    expect(r).toMatchObject({ ok: true, status: 'verified', sharedOk: true, links: 5, verified: 5, anchored: 5 });
    expect(r.notary).toEqual({ keyId: 'notary-1', publicKey: NOTARY, pinned: true });
    const map = r.maps['order-42']!;
    expect(map.map((l) => [l.step, l.author, l.signers, l.height, l.ok])).toEqual([
      ['order', 'customer', ['customer'], 0, true],
      ['confirm', 'retailer', ['retailer'], 0, true],
      ['produce', 'manufacturer', ['manufacturer', 'retailer'], 0, true],
      ['ship', 'delivery', ['delivery'], 1, true],
      ['pay', 'bank', ['bank', 'customer'], 1, true],
    ]);
    // Blocks 0 and 1 are tied by history to block 2, which is anchored in regtest block 150.
    for (const l of map) expect(l.anchoredAt).toMatchObject({ block: 2, network: 'regtest', bitcoinHeight: 150, bitcoinTime: 1793697002 });
    expect(r.anchors).toHaveLength(1);
    expect(r.processes).toEqual([{ id: 'order-to-cash', version: 1, hash: load('order-42.json').processes[0]!.hash }]);
  });

  test('shows its disclosures, verified against the links', () => {
    const b = load('order-42.json');
    const r = verifyBundle(b, opts);
    expect(r.disclosed).toEqual([
      { linkHash: b.links[2]!.linkHash, field: 'cost', value: 41.25 },
      { linkHash: b.links[4]!.linkHash, field: 'iban', value: 'FR7630006000011234567890189' },
    ]);
  });

  test('without pinned notary keys it verifies and says the key was not pinned', () => {
    const r = verifyBundle(load('order-42.json'), { verifier: nodeVerifier });
    expect(r.ok).toBe(true);
    expect(r.notary?.pinned).toBe(false);
  });

  test('its manifest is the documented digest and signature', () => {
    const b = load('order-42.json');
    const m = read('bundle-manifest.json') as { digestInput: string; digest: string; message: string };
    expect(bundleDigest(b.scope, b.createdAt, b.links.map((l) => l.linkHash))).toBe(m.digest);
    expect(toHex(sha256(utf8(m.digestInput)))).toBe(b.manifest.digest);
    expect(m.digestInput.startsWith(`pop:bundle:v1\n{"mapId":"order-42","process":"order-to-cash"}\n${b.createdAt}\n`)).toBe(true);
    expect(new TextDecoder().decode(bundleManifestMessage(m.digest))).toBe(m.message);
    expect(nodeVerifier.verify('ed25519', fromHex(NOTARY), bundleManifestMessage(m.digest), fromHex(b.manifest.notarySig))).toBe(true);
  });

  const verdicts = read('bundle-verdicts.json') as Record<string, string>;
  test('there are good and bad golden bundles, with many codes', () => {
    expect(Object.values(verdicts).filter((v) => v === 'verified')).toHaveLength(2);
    expect(new Set(Object.values(verdicts)).size).toBeGreaterThanOrEqual(15);
  });
  for (const verifier of [nobleVerifier, nodeVerifier]) {
    test.each(Object.entries(verdicts))(`${verifier.name}: %s → %s`, (file, expected) => {
      expect(verdict(read(file), { verifier, notaryKeys: [NOTARY] })).toBe(expected);
    });
  }
  test.each(Object.keys(verdicts))('%s: the same result with node:crypto SHA-256', (file) => {
    expect(verifyBundle(read(file), { ...opts, sha256: nodeSha256 })).toEqual(verifyBundle(read(file), opts));
  });
});

// --- every single change ---

type Slot = { path: string; value: string | number; set: (v: string | number) => void };

function slots(value: unknown, path = ''): Slot[] {
  if (Array.isArray(value) || (typeof value === 'object' && value !== null)) {
    const o = value as Record<string, unknown>;
    return Object.keys(o).flatMap((k) => {
      const v = o[k];
      const here = path ? `${path}.${k}` : k;
      if (typeof v === 'number' || (typeof v === 'string' && /^[0-9a-f]+$/.test(v))) return [{ path: here, value: v, set: (x: string | number) => void (o[k] = x) }];
      return slots(v, here);
    });
  }
  return [];
}

/** Signature verdicts are remembered (a change touches one input): the answers are nodeVerifier's. */
function memoVerifier(): SignatureVerifier {
  const memo = new Map<string, boolean>();
  return {
    name: 'memo',
    verify(alg, publicKey, message, signature) {
      const key = `${alg}:${toHex(publicKey)}:${toHex(message)}:${toHex(signature)}`;
      let v = memo.get(key);
      if (v === undefined) memo.set(key, (v = nodeVerifier.verify(alg, publicKey, message, signature)));
      return v;
    },
  };
}

describe('every change of a hash, key, signature or number is rejected with a named code', () => {
  const bundle = load('order-42.json');
  const all = slots(bundle);
  const verifier = memoVerifier();
  // The two members of anchor evidence that are not evidence (docs/protocol.md §11): the stated
  // Bitcoin height, and the transaction's witness, which the txid does not cover.
  const tx = fromHex(bundle.anchors[0]!.tx);
  const stripped = parseTransaction(tx).stripped;
  const witness = { from: 2 * (stripped.length - 4 + 2), to: 2 * (tx.length - 4) };
  const notEvidence = (path: string, at?: number) =>
    path === 'anchors.0.bitcoinBlock.height' || (path === 'anchors.0.tx' && at !== undefined && at >= witness.from && at < witness.to);

  test('the walk covers every part of the bundle', () => {
    const paths = all.map((s) => s.path.replace(/\.\d+/g, '.*'));
    for (const p of [
      'links.*.linkHash', 'links.*.link.prev.*', 'links.*.link.refs.*.linkHash', 'links.*.link.digests.*', 'links.*.link.processVersion', 'links.*.link.v',
      'links.*.link.meta.total', 'links.*.signatures.*.sig', 'links.*.height', 'links.*.inclusion.leafIndex', 'links.*.inclusion.treeSize', 'links.*.inclusion.path.*',
      'processes.*.version', 'processes.*.hash', 'processes.*.definition.steps.order.meta.properties.lines.maximum', 'participants.*.keys.*.publicKey',
      'blocks.*.header', 'blocks.*.notarySig', 'history.*.height', 'history.*.to', 'history.*.path.*', 'notary.publicKey',
      'anchors.*.blockHash', 'anchors.*.txid', 'anchors.*.tx', 'anchors.*.bitcoinBlock.hash', 'anchors.*.bitcoinBlock.header', 'anchors.*.bitcoinBlock.height',
      'anchors.*.merkle.pos', 'anchors.*.merkle.siblings.*', 'manifest.count', 'manifest.digest', 'manifest.notarySig',
    ]) expect(paths, p).toContain(p);
  });

  test('+1 on every number', () => {
    const accepted: string[] = [];
    for (const s of all.filter((x) => typeof x.value === 'number')) {
      s.set((s.value as number) + 1);
      const r = verifyBundle(bundle, { verifier, notaryKeys: [NOTARY] });
      s.set(s.value);
      if (r.ok) accepted.push(s.path);
      else expect(VERIFICATION_CODES).toContain(r.failures[0]!.code);
    }
    expect(accepted).toEqual(['anchors.0.bitcoinBlock.height']);
    expect(verifyBundle(bundle, opts).ok).toBe(true); // restored
  });

  test('one hex character flipped, at every position of every hex string', { timeout: 300_000 }, () => {
    const accepted: { path: string; at: number }[] = [];
    const codes = new Set<string>();
    let changes = 0;
    for (const s of all.filter((x) => typeof x.value === 'string')) {
      const text = s.value as string;
      for (let at = 0; at < text.length; at++) {
        s.set(text.slice(0, at) + flipChar(text[at]!) + text.slice(at + 1));
        const r = verifyBundle(bundle, { verifier, notaryKeys: [NOTARY] });
        changes++;
        if (r.ok) accepted.push({ path: s.path, at });
        else codes.add(r.failures[0]!.code);
      }
      s.set(text);
    }
    expect(changes).toBeGreaterThan(4000);
    expect(accepted.filter((a) => !notEvidence(a.path, a.at))).toEqual([]);
    // Only witness bytes are accepted, and they are (the txid does not cover them).
    expect(accepted.length).toBeGreaterThan(0);
    expect([...codes].every((c) => (VERIFICATION_CODES as readonly string[]).includes(c))).toBe(true);
    expect(codes.size).toBeGreaterThanOrEqual(10);
    // Pinning aside, the notary key is caught by the signatures it no longer verifies.
    const unpinned = structuredClone(bundle);
    unpinned.notary.publicKey = flipChar(NOTARY[0]!) + NOTARY.slice(1);
    expect(verdict(unpinned, { verifier })).not.toBe('verified');
  });
});

// --- the set of links ---

describe('a changed set of links is rejected', () => {
  const base = load('order-42.json');
  const variants = (resign: boolean) => {
    const out: [string, BundleV1][] = [];
    const make = (name: string, f: (links: BundleV1['links']) => BundleV1['links']) => {
      const b = structuredClone(base);
      b.links = f(b.links);
      if (resign) signManifest(b, NOTARY_SECRET);
      out.push([name, b]);
    };
    for (let i = 0; i < 5; i++) {
      for (let j = i + 1; j < 5; j++) make(`swap ${i} ${j}`, (l) => l.map((x, k) => (k === i ? l[j]! : k === j ? l[i]! : x)));
      make(`drop ${i}`, (l) => l.filter((_, k) => k !== i));
      make(`duplicate ${i} after itself`, (l) => [...l.slice(0, i + 1), structuredClone(l[i]!), ...l.slice(i + 1)]);
      make(`duplicate ${i} at the end`, (l) => [...l, structuredClone(l[i]!)]);
      if (i < 4) make(`move ${i} to the end`, (l) => [...l.filter((_, k) => k !== i), l[i]!]);
    }
    make('reversed', (l) => [...l].reverse());
    make('link 1 of another bundle', (l) => l.map((x, k) => (k === 1 ? structuredClone(load('bad-meta-changed.json').links[1]!) : x)));
    return out;
  };

  test.each(variants(false))('%s, manifest as signed: MANIFEST_INVALID', (_, b) => {
    expect(verdict(b)).toBe(_.startsWith('link 1') ? 'LINK_HASH_MISMATCH' : 'MANIFEST_INVALID');
  });

  test.each(variants(true))('%s, manifest re-signed by the notary: still rejected', (_, b) => {
    expect(verdict(b)).not.toBe('verified');
  });

  test('a notary that drops a link from the middle of a map is caught by the next link', () => {
    expect(verifyBundle(load('bad-dropped-resigned.json'), opts).failures).toEqual([
      expect.objectContaining({ code: 'MANIFEST_INVALID', index: 3, message: expect.stringContaining('is not in the bundle') }),
    ]);
  });
});

describe('disclosures', () => {
  const base = load('order-42.json');
  const disclosure = base.links[4]!.disclosures![0]!;
  const withDisclosures = (d: string[], index = 4) => {
    const b = structuredClone(base);
    b.links[index]!.disclosures = d;
    return b;
  };

  test.each([
    ['a changed value', disclosure.replace('FR76', 'FR77')],
    ['a changed salt', disclosure.replace(/^\["(.)/, (_, c: string) => `["${flipChar(c)}`)],
    ['a changed field name', disclosure.replace('"iban"', '"ibam"')],
    ['whitespace', disclosure.replace(',', ', ')],
    ['not JSON', disclosure.slice(1)],
  ])('%s: DISCLOSURE_INVALID', (_, d) => {
    const r = verifyBundle(withDisclosures([d]), opts);
    expect(bundleVerdict(r)).toBe('DISCLOSURE_INVALID');
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toMatchObject({ linkHash: base.links[4]!.linkHash, index: 4 });
    expect(r.disclosed.map((x) => x.field)).toEqual(['cost']); // the other link's disclosure still stands
  });

  test("another link's disclosure, or the same field twice: DISCLOSURE_INVALID", () => {
    expect(verdict(withDisclosures(base.links[2]!.disclosures!))).toBe('DISCLOSURE_INVALID');
    expect(verdict(withDisclosures([disclosure, disclosure]))).toBe('DISCLOSURE_INVALID');
  });

  test('a fresh disclosure of the same field with another salt is not among the digests', () => {
    const other = makeDisclosure('ab'.repeat(32), 'iban', 'FR7630006000011234567890189').disclosure;
    expect(verdict(withDisclosures([other]))).toBe('DISCLOSURE_INVALID');
  });
});

describe('per-link results', () => {
  test('each failing link is reported with its first failure; the others verify', () => {
    const b = load('order-42.json');
    b.links[1]!.signatures[0]!.sig = flipChar(b.links[1]!.signatures[0]!.sig[0]!) + b.links[1]!.signatures[0]!.sig.slice(1);
    b.links[3]!.inclusion.path[0] = flipChar(b.links[3]!.inclusion.path[0]![0]!) + b.links[3]!.inclusion.path[0]!.slice(1);
    const r = verifyBundle(b, opts);
    expect(r.ok).toBe(false);
    expect(r.sharedOk).toBe(true);
    expect(r.failures.map((f) => [f.index, f.code])).toEqual([[1, 'SIGNATURE_INVALID'], [3, 'INCLUSION_INVALID']]);
    expect(r.maps['order-42']!.map((l) => l.ok)).toEqual([true, false, true, false, true]);
    expect(r.maps['order-42']![1]!.anchoredAt).toBeUndefined();
    expect(r).toMatchObject({ verified: 3, anchored: 3 });
  });

  test('a failure of a shared part ends verification with that one failure', () => {
    const r = verifyBundle(load('bad-history-path.json'), opts);
    expect(r).toMatchObject({ ok: false, sharedOk: false, maps: {} });
    expect(r.failures).toEqual([{ code: 'HISTORY_INVALID', message: expect.any(String) }]);
  });

  test('progress is reported', () => {
    const seen: [number, number][] = [];
    verifyBundle(load('order-42.json'), { ...opts, onProgress: (d, t) => seen.push([d, t]) });
    expect(seen).toEqual([[5, 5]]);
  });

  test('verifyBundle returns a result for anything, and never throws a VerificationError', () => {
    for (const v of [null, 42, 'x', [], {}, { type: 'pop/bundle/v1' }, { type: 'pop/proof/v1' }]) {
      const r = verifyBundle(v, opts);
      expect(r.ok).toBe(false);
      expect(r.failures[0]!.code).toBe('MALFORMED');
    }
    expect(verdict({ type: 'pop/bundle/v9' })).toBe('UNSUPPORTED_VERSION');
  });
});

// --- custom maps through the bundle builder ---

const party = (id: string): Signer => {
  const p = keys.participants.find((q) => q.participant === id)!;
  return { participant: p.participant, keyId: p.keyId, alg: p.alg, secretKey: fromHex(p.secretKey), publicKey: p.publicKey };
};
const P = { customer: party('customer'), retailer: party('retailer'), manufacturer: party('manufacturer'), delivery: party('delivery'), bank: party('bank') };
const META: Record<string, Link['meta']> = {
  order: { currency: 'EUR', lines: 1, total: 10 },
  confirm: { promisedBy: '2026-11-09' },
  produce: { batch: 'B-1', units: 1 },
  ship: { carrier: 'ACME', parcels: 1 },
  pay: { amount: 10, currency: 'EUR' },
};
const SIGNERS: Record<string, Signer[]> = {
  order: [P.customer],
  confirm: [P.retailer],
  produce: [P.manufacturer, P.retailer],
  ship: [P.delivery],
  pay: [P.bank, P.customer],
};
let clock = 0;
function step(step: string, prev: string[], mapId = 'm-1'): BuildLink {
  const signers = SIGNERS[step] ?? [P.delivery];
  const link: Link = {
    v: 1, process: 'order-to-cash', processVersion: 1, mapId, step, prev, refs: [], meta: META[step] ?? {}, tags: [], digests: [],
    author: signers[0]!.participant, createdAt: new Date(Date.UTC(2026, 10, 2, 9) + clock++ * 1000).toISOString(),
  };
  return { link, signers };
}
/** A chain of steps in one map; returns the links. */
function chain(steps: string[], mapId = 'm-1', after: string[] = []): BuildLink[] {
  const out: BuildLink[] = [];
  let prev = after;
  for (const s of steps) {
    const l = step(s, prev, mapId);
    out.push(l);
    prev = [linkHash(l.link)];
  }
  return out;
}
function bundleOf(links: BuildLink[], o: { scope?: BundleV1['scope']; definition?: ProcessDefinition; blockSize?: number; anchor?: boolean } = {}): BundleV1 {
  return buildBundle(links, {
    scope: o.scope ?? { process: 'order-to-cash', mapId: 'm-1' },
    createdAt: '2026-11-05T00:00:00Z',
    notary: { keyId: keys.notary.keyId, secretKey: NOTARY_SECRET, publicKey: NOTARY },
    processes: [{ version: 1, definition: o.definition ?? GOLDEN_PROCESS }],
    blockSize: o.blockSize ?? 3,
    difficulty: 4,
    ...(o.anchor === undefined ? {} : { anchor: o.anchor }),
  });
}
const ruleFailure = (b: BundleV1) => verifyBundle(b, opts).failures[0];

describe('process rules, re-run against the bundled process version', () => {
  const full = ['order', 'confirm', 'produce', 'ship', 'pay'];

  test('a complete map verifies, across blocks, anchored through history', () => {
    const r = verifyBundle(bundleOf(chain(full)), opts);
    expect(r.failures).toEqual([]);
    expect(r.blocks.map((b) => b.height)).toEqual([0, 1, 2]);
    expect(r.anchored).toBe(5);
  });

  test('without an anchor the links verify but are not anchored', () => {
    const r = verifyBundle(bundleOf(chain(full), { anchor: false }), opts);
    expect(r).toMatchObject({ ok: true, anchored: 0 });
    expect(r.maps['m-1']!.every((l) => l.anchoredAt === undefined)).toBe(true);
  });

  test('a step that does not exist, or cannot start a map, or may not follow its prev', () => {
    const unknown = chain(['order']);
    unknown.push(step('deliver', [linkHash(unknown[0]!.link)]));
    expect(ruleFailure(bundleOf(unknown))).toMatchObject({ code: 'RULE_VIOLATION', message: expect.stringContaining('has no step deliver') });
    expect(ruleFailure(bundleOf(chain(['confirm'])))).toMatchObject({ code: 'RULE_VIOLATION', message: expect.stringContaining('cannot start a map') });
    expect(ruleFailure(bundleOf(chain(['order', 'produce'])))).toMatchObject({ code: 'RULE_VIOLATION', message: expect.stringContaining('may not follow order') });
  });

  test('nothing follows a final step: a definition that says otherwise is refused', () => {
    const def = structuredClone(GOLDEN_PROCESS);
    def.steps['ship']!.after = ['produce', 'pay'];
    expect(ruleFailure(bundleOf(chain([...full, 'ship']), { definition: def }))).toMatchObject({ code: 'PROCESS_INVALID', message: expect.stringContaining('which is final') });
  });

  test('the author must hold an authoring role; each signer role must sign', () => {
    const links = chain(['order', 'confirm', 'produce']);
    links[2]!.signers = [P.manufacturer];
    expect(ruleFailure(bundleOf(links))).toMatchObject({ code: 'RULE_VIOLATION', message: expect.stringContaining('needs a signature by a retailer') });
    const def = structuredClone(GOLDEN_PROCESS);
    def.steps['confirm']!.authors = ['manufacturer'];
    expect(ruleFailure(bundleOf(chain(['order', 'confirm']), { definition: def }))).toMatchObject({ code: 'RULE_VIOLATION', message: expect.stringContaining('is authored by manufacturer') });
  });

  test('a map is started once; without forks, a link is followed once', () => {
    expect(ruleFailure(bundleOf([...chain(['order']), ...chain(['order'])]))).toMatchObject({ code: 'RULE_VIOLATION', message: expect.stringContaining('already started') });
    const [o] = chain(['order']);
    const after = [linkHash(o!.link)];
    const fork = [o!, ...chain(['confirm'], 'm-1', after), ...chain(['confirm'], 'm-1', after)];
    expect(ruleFailure(bundleOf(fork))).toMatchObject({ code: 'RULE_VIOLATION', message: expect.stringContaining('does not allow forks') });
    const forking = { ...structuredClone(GOLDEN_PROCESS), forks: true };
    expect(verdict(bundleOf(fork, { definition: forking }))).toBe('verified');
  });

  test('prev in another map', () => {
    const a = chain(['order'], 'm-1');
    const b = [step('order', [], 'm-2')];
    const c = step('confirm', [linkHash(b[0]!.link)], 'm-1');
    expect(ruleFailure(bundleOf([...a, ...b, c], { scope: { process: 'order-to-cash' } }))).toMatchObject({ code: 'RULE_VIOLATION', message: expect.stringContaining('is not a link of map m-1') });
  });

  test('a map bundle must hold the whole map; a time-range bundle may start mid-map', () => {
    const links = chain(full).slice(2);
    expect(ruleFailure(bundleOf(links))).toMatchObject({ code: 'MANIFEST_INVALID', index: 0 });
    expect(verdict(bundleOf(links, { scope: { process: 'order-to-cash', from: '2026-11-02T00:00:00Z', to: '2026-11-03T00:00:00Z' } }))).toBe('verified');
  });

  test('a link of another map or process is outside the scope', () => {
    expect(ruleFailure(bundleOf(chain(['order'], 'm-2')))).toMatchObject({ code: 'MANIFEST_INVALID', message: expect.stringContaining('a link of map m-2') });
    const def = { ...structuredClone(GOLDEN_PROCESS), id: 'other' };
    const l = chain(['order']);
    l[0]!.link.process = 'other';
    expect(ruleFailure(bundleOf(l, { definition: def }))).toMatchObject({ code: 'MANIFEST_INVALID', message: expect.stringContaining('of process other') });
  });

  test('an unusable process definition: PROCESS_INVALID', () => {
    const bad = (f: (d: ProcessDefinition) => void) => {
      const d = structuredClone(GOLDEN_PROCESS);
      f(d);
      return verdict(bundleOf(chain(['order']), { definition: d }));
    };
    expect(bad((d) => void (d.steps['order']!.authors = ['nobody']))).toBe('PROCESS_INVALID');
    expect(bad((d) => void (d.steps['order']!.after = ['nowhere']))).toBe('PROCESS_INVALID');
    expect(bad((d) => void (d.steps['order']!.meta = { type: 'object', unknownKeyword: 1 }))).toBe('PROCESS_INVALID');
    expect(bad((d) => void (d.steps['order']!.meta = { $ref: 'https://example.com/remote.json' }))).toBe('PROCESS_INVALID');
  });
});

// --- hostile step schemas: the bounds and the RE2 engine the service applies (core/schema-bounds.ts) ---

/**
 * Runs in a worker thread, so that a regression (a backtracking regex engine) hangs the worker, not
 * the test: the test's own thread stays free, vitest's timeout fails it, and the worker is ended.
 * `bundle`: verifyBundle's first failure; `ledger`: the service's compiled meta validator on `meta`.
 */
async function isolated(task: { kind: 'bundle'; bundle: unknown } | { kind: 'ledger'; definition: ProcessDefinition; meta: unknown }): Promise<unknown> {
  const url = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
      .then((tsx) => { tsx.register(); return Promise.all([import(${url('../../src/core/index.ts')}), import(${url('../../src/ledger/process-rules.ts')})]); })
      .then(([core, ledger]) => {
        if (workerData.kind === 'bundle') return core.verifyBundle(workerData.bundle, { verifier: core.nobleVerifier }).failures[0] ?? null;
        const d = workerData.definition;
        return ledger.compileProcess(d.id, 1, 'h', d).steps.get('order').meta(workerData.meta);
      })
      .then((answer) => parentPort.postMessage({ answer }), (e) => parentPort.postMessage({ error: String(e) }));`;
  const worker = new Worker(code, { eval: true, workerData: task });
  try {
    const reply = await new Promise<{ answer?: unknown; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (reply.error !== undefined) throw new Error(reply.error);
    return reply.answer;
  } finally {
    await worker.terminate();
  }
}

describe('hostile step schemas in a bundled process', () => {
  /** A one-link bundle whose order step has `meta` as its meta schema, and the link `linkMeta`. */
  const hostile = (meta: object, linkMeta: Link['meta']) => {
    const def = structuredClone(GOLDEN_PROCESS);
    def.steps['order']!.meta = meta as ProcessDefinition['steps'][string]['meta'];
    const links = chain(['order']);
    links[0]!.link.meta = linkMeta;
    return bundleOf(links, { definition: def });
  };
  const evil = `${'a'.repeat(5_000)}b`; // against ^(a+)+$: 2^5000 paths for a backtracking engine
  const catastrophic = { type: 'object', properties: { currency: { type: 'string', pattern: '^(a+)+$' } } };

  test('a catastrophic pattern ^(a+)+$ against "aaaa…b" is decided without catastrophic backtracking (RE2): RULE_VIOLATION', { timeout: 60_000 }, async () => {
    expect(await isolated({ kind: 'bundle', bundle: hostile(catastrophic, { currency: evil }) })).toMatchObject({
      code: 'RULE_VIOLATION',
      message: expect.stringContaining('/currency must match pattern "^(a+)+$"'),
    });
    expect(verdict(hostile(catastrophic, { currency: 'a'.repeat(5_000) }))).toBe('verified');
  });

  test('the same in patternProperties', { timeout: 60_000 }, async () => {
    const b = hostile({ type: 'object', patternProperties: { '^(a+)+$': { type: 'number' } } }, { [evil]: 'x', aaa: 'not a number' });
    expect(await isolated({ kind: 'bundle', bundle: b })).toMatchObject({ code: 'RULE_VIOLATION', message: expect.stringContaining('must be number') });
  });

  test('the service validates meta with the same engine', { timeout: 60_000 }, async () => {
    const definition = structuredClone(GOLDEN_PROCESS);
    definition.steps['order']!.meta = catastrophic;
    expect(await isolated({ kind: 'ledger', definition, meta: { currency: evil } })).toBe(false);
    expect(await isolated({ kind: 'ledger', definition, meta: { currency: 'aaa' } })).toBe(true);
  });

  test('patterns run on RE2: ECMAScript-only syntax (look-arounds, backreferences) does not compile: PROCESS_INVALID', () => {
    for (const pattern of ['^(?=a)a$', '^(a)\\1$', '(?<!x)y']) {
      expect(ruleFailure(hostile({ type: 'object', properties: { currency: { type: 'string', pattern } } }, { currency: 'a' }))).toMatchObject({
        code: 'PROCESS_INVALID',
        message: expect.stringContaining('the meta schema does not compile'),
      });
    }
    // and a plain pattern is still enforced
    expect(ruleFailure(hostile({ type: 'object', properties: { currency: { type: 'string', pattern: '^[A-Z]{3}$' } } }, { currency: 'EURO' }))).toMatchObject({ code: 'RULE_VIOLATION' });
  });

  test.each<[string, object, string]>([
    ['uniqueItems without maxItems', { type: 'object', properties: { a: { type: 'array', uniqueItems: true } } }, 'uses uniqueItems without a maxItems of at most 1000'],
    ['uniqueItems with a maxItems above 1,000', { type: 'object', properties: { a: { type: 'array', uniqueItems: true, maxItems: 100_000 } } }, 'uses uniqueItems without a maxItems'],
    [
      'a $ref fan-out of 2^30 paths',
      {
        type: 'object',
        properties: { s: { $ref: '#/$defs/d0' } },
        $defs: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`d${i}`, i === 29 ? { type: 'string' } : { anyOf: [{ $ref: `#/$defs/d${i + 1}` }, { $ref: `#/$defs/d${i + 1}` }] }])),
      },
      'expands to more than 50000 subschemas',
    ],
    ['6,000 subschemas', { type: 'object', properties: Object.fromEntries(Array.from({ length: 6_000 }, (_, i) => [`p${i}`, { type: 'string' }])) }, 'has more than 5000 subschemas'],
  ])('%s: PROCESS_INVALID, as the service refuses it', (_, meta, why) => {
    expect(ruleFailure(hostile(meta, { currency: 'EUR' }))).toMatchObject({ code: 'PROCESS_INVALID', message: expect.stringContaining(`step order: the meta schema ${why}`) });
    // The service refuses the same definition at registration, with the same reason.
    const def = structuredClone(GOLDEN_PROCESS);
    def.steps['order']!.meta = meta as ProcessDefinition['steps'][string]['meta'];
    expect(() => compileProcess(def.id, 1, 'h', def)).toThrow(expect.objectContaining({ code: 'process-invalid', message: expect.stringContaining(why) }));
  });

  test('a $ref that is not a valid pointer (bad percent-encoding): PROCESS_INVALID, and a refusal from the service, not a crash', () => {
    const meta = { type: 'object', properties: { currency: { $ref: '#/%E0%A4%A' } } };
    expect(ruleFailure(hostile(meta, { currency: 'EUR' }))).toMatchObject({ code: 'PROCESS_INVALID' });
    const def = structuredClone(GOLDEN_PROCESS);
    def.steps['order']!.meta = meta;
    expect(() => compileProcess(def.id, 1, 'h', def)).toThrow(expect.objectContaining({ code: 'process-invalid' }));
  });

  test('a definition above the service\'s size limit: PROCESS_INVALID', () => {
    const meta = { type: 'object', description: 'x'.repeat(MAX_DEFINITION_CHARS) };
    expect(ruleFailure(hostile(meta, { currency: 'EUR' }))).toMatchObject({ code: 'PROCESS_INVALID', message: expect.stringContaining('exceeds') });
    const def = structuredClone(GOLDEN_PROCESS);
    def.steps['order']!.meta = meta;
    expect(() => checkDefinition(def)).toThrow(LedgerError);
  });

  test('the service compiles with the same engine: a look-around is refused', () => {
    const def = structuredClone(GOLDEN_PROCESS);
    def.steps['order']!.meta = { type: 'object', properties: { currency: { type: 'string', pattern: '^(?=a)a$' } } };
    expect(() => compileProcess(def.id, 1, 'h', def)).toThrow(expect.objectContaining({ code: 'process-invalid', message: expect.stringContaining('does not compile') }));
  });
});

// --- an asynchronous signature backend (core/async-verify.ts, the browser's WebCrypto seam) ---

/** node:crypto behind promises, with what it was asked; `lie` turns chosen verdicts around. */
function asyncBackend(lie: (sig: Uint8Array) => boolean = () => false) {
  const asked: string[] = [];
  const prepared: string[] = [];
  const backend: AsyncSignatureVerifier = {
    name: 'async-node',
    verify: async (alg, pk, msg, sig) => {
      asked.push(toHex(sig));
      await Promise.resolve();
      return nodeVerifier.verify(alg, pk, msg, sig) !== lie(sig);
    },
    prepare: async (keys) => void prepared.push(...keys.map((k) => `${k.alg}:${toHex(k.publicKey)}`)),
  };
  return { backend, asked, prepared };
}

/** The result of verifyProof, or its failure, for comparisons. */
function proofOutcome(run: () => ProofResult): unknown {
  try {
    return run();
  } catch (e) {
    return e instanceof VerificationError ? { code: e.code, message: e.message } : e;
  }
}
async function proofOutcomeAsync(run: () => Promise<ProofResult>): Promise<unknown> {
  try {
    return await run();
  } catch (e) {
    return e instanceof VerificationError ? { code: e.code, message: e.message } : e;
  }
}

describe('with an asynchronous signature backend', () => {
  test.each(Object.keys(read('bundle-verdicts.json') as Record<string, string>))('%s: the same result as the synchronous verifier', async (file) => {
    const { backend, asked } = asyncBackend();
    const r = await verifyBundleAsync(read(file), { verifier: backend, fallback: nodeVerifier, notaryKeys: [NOTARY] });
    expect(r).toEqual(verifyBundle(read(file), opts));
    if (file.endsWith('order-42.json')) expect(asked).toHaveLength(7 + 3 + 1); // 7 link signatures, 3 blocks, the manifest: each once
  });

  test.each(Object.keys(read('verdicts.json') as Record<string, string>))('%s: the same result or failure as verifyProof', async (file) => {
    const { backend } = asyncBackend();
    const got = await proofOutcomeAsync(() => verifyProofAsync(read(file), { verifier: backend, fallback: nodeVerifier }));
    expect(got).toEqual(proofOutcome(() => verifyProof(read(file), { verifier: nodeVerifier })));
  });

  test('the keys are prepared before any signature is asked for', async () => {
    const b = load('order-42.json');
    const { backend, prepared } = asyncBackend();
    await verifyBundleAsync(b, { verifier: backend, fallback: nodeVerifier });
    expect(prepared.sort()).toEqual([`ed25519:${NOTARY}`, ...b.participants.flatMap((p) => p.keys.map((k) => `${k.alg}:${k.publicKey}`))].sort());
  });

  test('a verdict the first run assumed and the backend denies: verified again, with the real verdicts', async () => {
    const b = load('order-42.json');
    const retailerSig = b.links[1]!.signatures[0]!.sig;
    const blockSig = b.blocks[1]!.notarySig;
    for (const denied of [retailerSig, blockSig, b.manifest.notarySig]) {
      const lie = (sig: Uint8Array) => toHex(sig) === denied;
      const { backend } = asyncBackend(lie);
      const table: SignatureVerifier = { name: 'liar', verify: (alg, pk, msg, sig) => nodeVerifier.verify(alg, pk, msg, sig) !== lie(sig) };
      const r = await verifyBundleAsync(b, { verifier: backend, fallback: nodeVerifier, notaryKeys: [NOTARY] });
      expect(r.ok).toBe(false);
      expect(r).toEqual(verifyBundle(b, { verifier: table, notaryKeys: [NOTARY] }));
    }
    const p = read('proofs/link2-cosigned.json') as { signatures: { sig: string }[]; block: { notarySig: string } };
    for (const denied of [p.signatures[1]!.sig, p.block.notarySig]) {
      const { backend } = asyncBackend((sig) => toHex(sig) === denied);
      const got = await proofOutcomeAsync(() => verifyProofAsync(p, { verifier: backend, fallback: nodeVerifier }));
      expect(got).toMatchObject({ code: denied === p.block.notarySig ? 'NOTARY_SIGNATURE_INVALID' : 'SIGNATURE_INVALID' });
    }
  });

  test('a backend that breaks its promise (rejects or throws): the fallback decides', async () => {
    const b = load('bad-signature-flipped.json');
    for (const broken of [async () => Promise.reject(new Error('boom')), () => {
      throw new Error('boom');
    }]) {
      const backend: AsyncSignatureVerifier = { name: 'broken', verify: broken as AsyncSignatureVerifier['verify'] };
      expect(await verifyBundleAsync(b, { verifier: backend, fallback: nodeVerifier, notaryKeys: [NOTARY] })).toEqual(verifyBundle(b, opts));
    }
  });
});

describe('structure: each part once, nothing unused, nothing missing', () => {
  const base = () => load('order-42.json');
  const resigned = (f: (b: BundleV1) => void) => {
    const b = base();
    f(b);
    return verdict(signManifest(b, NOTARY_SECRET));
  };
  test.each<[string, (b: BundleV1) => void, string]>([
    ['a participant twice', (b) => void b.participants.push(structuredClone(b.participants[0]!)), 'MALFORMED'],
    ['a key nobody uses', (b) => void b.participants[0]!.keys.push({ keyId: 'spare', alg: 'ed25519', publicKey: P.retailer.publicKey }), 'MALFORMED'],
    ['a participant without the key a signature names', (b) => void (b.participants.find((p) => p.id === 'bank')!.keys[0]!.keyId = 'bank-2'), 'MALFORMED'],
    ['a process version twice', (b) => void b.processes.push(structuredClone(b.processes[0]!)), 'MALFORMED'],
    ['a process version no link uses', (b) => void b.processes.push({ ...structuredClone(b.processes[0]!), version: 2 }), 'MALFORMED'],
    ['no process version', (b) => void (b.processes = []), 'MALFORMED'],
    ['a block twice', (b) => void b.blocks.splice(1, 0, structuredClone(b.blocks[1]!)), 'MALFORMED'],
    ['blocks out of order', (b) => void b.blocks.reverse(), 'MALFORMED'],
    ['a link without its block', (b) => void b.blocks.splice(1, 1), 'HISTORY_INVALID'],
    ['a history entry to a missing block', (b) => void (b.history[0]!.to = 3), 'HISTORY_INVALID'],
    ['history out of order', (b) => void b.history.reverse(), 'MALFORMED'],
    ['an anchor twice', (b) => void b.anchors.push(structuredClone(b.anchors[0]!)), 'MALFORMED'],
    ['an anchor of a block not in the bundle', (b) => void (b.anchors[0]!.blockHash = '00'.repeat(32)), 'ANCHOR_INVALID'],
    ['a block nothing needs', (b) => void (b.history = []), 'MALFORMED'],
    ['from after to', (b) => void (b.scope = { process: 'order-to-cash', from: '2026-11-03T00:00:00Z', to: '2026-11-02T23:59:59.999999999Z' }), 'MALFORMED'],
    ['a createdAt that does not exist', (b) => void (b.createdAt = '2026-02-30T00:00:00Z'), 'MALFORMED'],
    ['scope with mapId and a range', (b) => void ((b.scope as Record<string, string>)['from'] = '2026-11-02T00:00:00Z'), 'MALFORMED'],
  ])('%s: %s', (_, f, code) => expect(resigned(f)).toBe(code));

  test('blocks 0 and 1 of two different chains do not chain: HEADER_INVALID', () => {
    const one = bundleOf(chain(['order', 'confirm', 'produce', 'ship']), { anchor: false });
    const two = bundleOf(chain(['order', 'confirm', 'produce', 'ship']), { anchor: false });
    one.blocks[1] = two.blocks[1]!;
    expect(verdict(one)).toBe('HEADER_INVALID');
  });

  test('a map scope without mapId (the whole process) needs every prev too', () => {
    const b = bundleOf(chain(['order', 'confirm']).slice(1), { scope: { process: 'order-to-cash' } });
    expect(ruleFailure(b)).toMatchObject({ code: 'MANIFEST_INVALID', message: expect.stringContaining('the whole process order-to-cash') });
  });
});

describe('helpers', () => {
  test('compareInstants orders RFC 3339 timestamps of any precision', () => {
    expect(compareInstants('2026-11-02T09:00:00Z', '2026-11-02T09:00:00.000Z')).toBe(0);
    expect(compareInstants('2026-11-02T09:00:00.5Z', '2026-11-02T09:00:00Z')).toBe(1);
    expect(compareInstants('2026-11-02T09:00:00.123456789Z', '2026-11-02T09:00:00.12345679Z')).toBe(-1);
    expect(compareInstants('2025-12-31T23:59:59.999Z', '2026-01-01T00:00:00Z')).toBe(-1);
  });

  test('ProvenTree gives the verdicts of RFC 9162 inclusion verification, path by path', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean()), { minLength: 1, maxLength: 60 }), (size, probes) => {
        const data = Array.from({ length: size }, (_, i) => sha256(new Uint8Array([i, size])));
        const tree = new LinkTree(data);
        const proven = new ProvenTree(size, tree.root);
        const provenNode = new ProvenTree(size, tree.root, nodeSha256);
        for (const [i, j, tamper] of probes) {
          const index = i % size;
          const path = tree.inclusionProof(index).map(toHex);
          if (tamper && path.length) path[j % path.length] = toHex(sha256(utf8(`x${j}`)));
          const claimed = tamper && !path.length ? (index + 1) % (size + 1) : index;
          const expected = (() => {
            try {
              verifyInclusion(claimed, size, leafHash(data[index]!), path.map((h) => fromHex(h)), tree.root);
              return 'ok';
            } catch (e) {
              if (e instanceof VerificationError) return e.code;
              throw e;
            }
          })();
          for (const p of [proven, provenNode]) {
            const got = (() => {
              try {
                p.verify(claimed, leafHash(data[index]!), path);
                return 'ok';
              } catch (e) {
                if (e instanceof VerificationError) return e.code;
                throw e;
              }
            })();
            expect(got).toBe(expected);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  test('signature verdicts reached elsewhere are used only for exactly the signature they name', () => {
    const b = load('order-42.json');
    const jobs = bundleSignatureJobs(b);
    expect(jobs).toHaveLength(7);
    expect(jobs[2]).toMatchObject({ link: 2, signature: 0, alg: 'ed25519', linkHash: b.links[2]!.linkHash, sig: b.links[2]!.signatures[0]!.sig });
    const never: SignatureVerifier = { name: 'never', verify: () => false };
    const at = (link: number, signature: number) => jobs.find((j) => j.link === link && j.signature === signature);
    // Every link signature known valid: the verifier is asked only for blocks and the manifest (and says no).
    expect(verdict(b, { verifier: never, notaryKeys: [NOTARY], knownSignature: (l, s) => ({ ...at(l, s)!, valid: true }) })).toBe('NOTARY_SIGNATURE_INVALID');
    const real = (l: number, s: number) => ({ ...at(l, s)!, valid: true });
    expect(verifyBundle(b, { ...opts, knownSignature: real })).toEqual(verifyBundle(b, opts));
    // A verdict that names another signature, key or link is ignored: the verifier decides.
    const asked: number[] = [];
    const counting: SignatureVerifier = { name: 'counting', verify: (...a) => (asked.push(1), nodeVerifier.verify(...a)) };
    for (const change of [{ sig: jobs[1]!.sig }, { linkHash: jobs[1]!.linkHash }, { publicKey: jobs[1]!.publicKey }, { alg: 'ed25519' }]) {
      asked.length = 0;
      const r = verifyBundle(b, { verifier: counting, notaryKeys: [NOTARY], knownSignature: (l, s) => (l === 0 ? { ...at(l, s)!, ...change, valid: true } : { ...at(l, s)!, valid: true }) });
      expect(r.ok).toBe(true);
      expect(asked.length).toBe(3 + 1 + 1); // 3 blocks, the manifest, and link 0's signature
    }
    // A false verdict for the signature itself fails the link.
    expect(verifyBundle(b, { ...opts, knownSignature: (l, s) => ({ ...at(l, s)!, valid: l !== 3 }) }).failures).toEqual([
      expect.objectContaining({ code: 'SIGNATURE_INVALID', index: 3 }),
    ]);
    expect(bundleSignatureJobs(null)).toEqual([]);
    expect(bundleSignatureJobs({ links: [{ linkHash: 'x' }], participants: [{}] })).toEqual([]);
  });
});

describe('on worker threads', () => {
  test('the workers check each signature', { timeout: 120_000 }, async () => {
    const b = load('bad-signature-flipped.json');
    const jobs = bundleSignatureJobs(b);
    const verdicts = await verifySignaturesInWorkers(jobs, 2);
    expect(verdicts).toHaveLength(7);
    expect(verdicts.map((v, i) => (v ? '' : `${jobs[i]!.link}/${jobs[i]!.signature}`)).filter(Boolean)).toEqual(['2/1']);
  });

  test('many chunks, shared by the workers and the calling thread, each verdict in its place', { timeout: 120_000 }, async () => {
    const jobs = Array.from({ length: 150 }, () => bundleSignatureJobs(load('bad-signature-flipped.json'))).flat();
    let progress = 0;
    const queue = new SignatureQueue(jobs, 2, (n) => void (progress = n));
    queue.help(); // the calling thread starts at once, the workers join when they are up
    const { verdicts, errors } = await queue.verdicts();
    expect(errors).toEqual([]);
    expect(progress).toBe(jobs.length);
    expect(verdicts.filter((v) => !v)).toHaveLength(150);
    verdicts.forEach((v, i) => expect(v).toBe(!(jobs[i]!.link === 2 && jobs[i]!.signature === 1)));
  });

  test.each(['order-42.json', 'bad-signature-flipped.json', 'bad-rule-meta.json', 'bad-link-swapped.json'])(
    'verifyBundleParallel gives verifyBundle\'s result: %s',
    { timeout: 120_000 },
    async (name) => {
      const b = load(name);
      let fellBack = false;
      const r: BundleResult = await verifyBundleParallel(b, { notaryKeys: [NOTARY], onFallback: () => void (fellBack = true) });
      expect(fellBack).toBe(false);
      expect(r).toEqual(verifyBundle(b, opts));
    },
  );
});

describe('pop verify on bundles', () => {
  const run = async (file: string, o: { json?: boolean; notaryKey?: string[] } = {}) => {
    let text = '';
    const code = await runVerify(join(golden, 'bundles', file), o, (s) => void (text += s));
    return { code, text };
  };

  test('a human report per map: each step, its signers, block and anchor, ✓', async () => {
    const { code, text } = await run('order-42.json', { notaryKey: [NOTARY] });
    expect(code).toBe(0);
    expect(text).toContain('map order-42');
    expect(text).toMatch(/✓ produce\s+manufacturer \+ retailer\s+block 0 \(2026-11-03T09:00:00\.000Z\)\s+anchored 2026-11-03T09:10:02\.000Z \(regtest block 150\)/);
    expect(text).toContain('disclosed iban = "FR7630006000011234567890189"');
    expect(text).toContain('(pinned key)');
    expect(text.trim().split('\n').at(-1)).toBe('VERIFIED: 5 links in 1 map, 5 anchored');
  });

  test('a failing link is marked ✗ with its code; the exit code is the first failure\'s', async () => {
    const { code, text } = await run('bad-signature-flipped.json');
    expect(code).toBe(exitCodeFor('SIGNATURE_INVALID'));
    expect(text).toMatch(/✗ produce .* SIGNATURE_INVALID: links\[2\]: signature by retailer\/retailer-1 does not verify/);
    expect(text).toContain('FAILED: 4 of 5 links verified');
  });

  test('--json: ok, links, anchored, failures', async () => {
    const good = JSON.parse((await run('order-42.json', { json: true })).text) as { ok: boolean; links: number; anchored: number; failures: unknown[] };
    expect(good).toMatchObject({ ok: true, links: 5, verified: 5, anchored: 5, failures: [] });
    const bad = await run('bad-link-dropped.json', { json: true });
    expect(bad.code).toBe(exitCodeFor('MANIFEST_INVALID'));
    expect(JSON.parse(bad.text)).toMatchObject({ ok: false, links: 4, anchored: 0, failures: [{ code: 'MANIFEST_INVALID' }] });
  });

  test.each(Object.entries(read('bundle-verdicts.json') as Record<string, string>))('%s exits as %s', async (file, expected) => {
    const { code } = await run(file.replace('bundles/', ''), { notaryKey: [NOTARY] });
    expect(code).toBe(expected === 'verified' ? 0 : exitCodeFor(expected as (typeof VERIFICATION_CODES)[number]));
  });
});
