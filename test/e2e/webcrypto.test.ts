// The console's signature verifier (src/console/verify/webcrypto.ts: WebCrypto for Ed25519 and
// P-256 where the browser has it and passes the probes, noble otherwise) in real Chromium, bundled by
// esbuild as the console is. Every case goes through the WebCrypto-backed verifier and through noble
// in the same page, and both must give the expected verdict: the Wycheproof EdDSA vectors, the RFC 8032
// sign.input vectors (../shared/vectors; under CI=true a missing folder is an error, elsewhere those
// suites are skipped with one line), the cases libraries differ on (small-order and mixed-order keys,
// non-canonical encodings, S ≥ L, R moved by a torsion point, high-S, r or s out of range, off-curve
// and malformed keys), and fast-check's fresh P-256 and Ed25519 signatures, valid and with one bit
// flipped. Where the pre-checks pass, WebCrypto must be what decided: the test fails if the verifier
// quietly fell back to noble. Then core's proof and bundle verification runs in the page on the
// golden files through the same backend. Chromium is required: without it this file fails.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha512 } from '@noble/hashes/sha2.js';
import * as esbuild from 'esbuild';
import fc from 'fast-check';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchChromium } from '../../scripts/screenshots.js';
import { concatBytes, equalBytes, fromHex, parseHex, toHex, utf8 } from '../../src/core/bytes.js';
import { sha256 } from '../../src/core/hash.js';
import { nobleVerifier, publicKeyFor, secretKeyFrom, sign } from '../../src/core/noble-verifier.js';
import { type Alg, CURVE_ORDER } from '../../src/core/signature.js';
import { type Backends, type Decider, type SignatureUse, BrowserVerifier, PROBES, PROBE_MESSAGE, WebCryptoEngine, detectBackends } from '../../src/console/verify/webcrypto.js';
import { nodeVerifier } from '../../src/node/verifier.js';
import { describeVectors, readVector, readWycheproofEddsa, vectorsDir } from '../helpers/vectors.js';

const root = join(fileURLToPath(import.meta.url), '../../..');
const goldenDir = join(root, 'test/golden');

// --- the page: the verifier bundled for the browser, as the console's worker is ---

const ENTRY = `
import { BrowserVerifier, WebCryptoEngine } from './src/console/verify/webcrypto.js';
import { nobleVerifier } from './src/core/noble-verifier.js';
import { verifyBundleAsync, verifyProofAsync } from './src/core/async-verify.js';
import { fromHex } from './src/core/bytes.js';
import { p256 } from '@noble/curves/nist.js';

const engine = new WebCryptoEngine(self.crypto.subtle);
const nobleOnly = new WebCryptoEngine(undefined);
const RAW = {
  ed25519: [{ name: 'Ed25519' }, { name: 'Ed25519' }, (k) => k],
  'ecdsa-p256': [{ name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' }, (k) => p256.Point.fromBytes(k).toBytes(false)],
};
// WebCrypto alone, without core's pre-checks: what they protect against.
async function raw(alg, pk, msg, sig) {
  if (!RAW[alg]) return null;
  try {
    const key = await crypto.subtle.importKey('raw', RAW[alg][2](pk), RAW[alg][0], false, ['verify']);
    return await crypto.subtle.verify(RAW[alg][1], key, sig, msg);
  } catch {
    return 'error';
  }
}
self.popTest = {
  backends: () => engine.backends,
  async run(cases) {
    const v = new BrowserVerifier(engine);
    const results = [];
    for (const c of cases) {
      const pk = fromHex(c.pk), msg = fromHex(c.msg), sig = fromHex(c.sig);
      const w = await v.decide(c.alg, pk, msg, sig);
      results.push({ webcrypto: w.valid, by: w.by, noble: nobleVerifier.verify(c.alg, pk, msg, sig), raw: await raw(c.alg, pk, msg, sig) });
    }
    return { results, uses: v.uses() };
  },
  async verify(kind, text, notaryKeys, webcrypto) {
    const v = new BrowserVerifier(webcrypto ? engine : nobleOnly);
    const opts = { verifier: v, fallback: v.fallback, notaryKeys };
    try {
      const r = kind === 'bundle' ? await verifyBundleAsync(JSON.parse(text), opts) : await verifyProofAsync(JSON.parse(text), opts);
      return { verdict: kind === 'bundle' ? (r.failures[0]?.code ?? 'verified') : 'verified', uses: v.uses() };
    } catch (e) {
      return { verdict: e.code ?? 'threw: ' + e.message, uses: v.uses() };
    }
  },
};
`;

interface Case {
  name: string;
  alg: Alg;
  pk: Uint8Array;
  msg: Uint8Array;
  sig: Uint8Array;
  expected: boolean;
}
interface Verdicts {
  webcrypto: boolean;
  by: Decider;
  noble: boolean;
  /** WebCrypto without the pre-checks: null for secp256k1 (not in WebCrypto), 'error' when it refused the input. */
  raw: boolean | null | 'error';
}

let browser: Browser;
let server: Server;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium(); // throws a clear message when Chromium is missing
  const built = await esbuild.build({
    stdin: { contents: ENTRY, resolveDir: root, loader: 'ts', sourcefile: 'webcrypto-test-entry.ts' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2022', 'chrome111'],
    write: false,
    logLevel: 'warning',
  });
  const script = built.outputFiles[0]!.text;
  // Served from 127.0.0.1, a secure context: crypto.subtle exists only in one.
  server = createServer((req, res) => {
    if (req.url === '/verifier.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>webcrypto</title><script src="/verifier.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => void errors.push(e.message));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => 'popTest' in self);
  expect(errors).toEqual([]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
});

async function inBrowser(cases: readonly Case[]): Promise<{ results: Verdicts[]; uses: SignatureUse[] }> {
  const wire = cases.map((c) => ({ alg: c.alg, pk: toHex(c.pk), msg: toHex(c.msg), sig: toHex(c.sig) }));
  return page.evaluate((w) => (self as unknown as { popTest: { run(c: typeof w): Promise<{ results: Verdicts[]; uses: SignatureUse[] }> } }).popTest.run(w), wire);
}

const WEBCRYPTO_ALGS: readonly Alg[] = ['ed25519', 'ecdsa-p256'];

/**
 * Every case: WebCrypto-backed verdict === noble's (in the browser) === expected, and noble in Node
 * says the same. Where WebCrypto has the algorithm, a verdict was WebCrypto's or the pre-checks',
 * never a silent fallback to noble; a valid signature was WebCrypto's.
 */
async function expectAgreement(cases: readonly Case[]): Promise<Verdicts[]> {
  const { results } = await inBrowser(cases);
  expect(results).toHaveLength(cases.length);
  const wrong: string[] = [];
  cases.forEach((c, i) => {
    const r = results[i]!;
    const node = nobleVerifier.verify(c.alg, c.pk, c.msg, c.sig);
    const webcryptoAlg = WEBCRYPTO_ALGS.includes(c.alg);
    const okBy = !webcryptoAlg ? r.by !== 'WebCrypto' : c.expected ? r.by === 'WebCrypto' : r.by !== 'noble';
    if (r.webcrypto !== c.expected || r.noble !== c.expected || node !== c.expected || !okBy) {
      wrong.push(`${c.name}: expected ${c.expected}; WebCrypto-backed ${r.webcrypto} (by ${r.by}), noble in the browser ${r.noble}, noble in Node ${node}`);
    }
  });
  expect(wrong).toEqual([]);
  return results;
}

// --- byte and curve helpers (Ed25519 by hand, as in test/unit/signature-agreement.test.ts) ---

const bytesOrEmpty = (hex: string): Uint8Array => parseHex(hex.toLowerCase()) ?? new Uint8Array(0);
const bigBE = (b: Uint8Array) => b.reduce((n, x) => (n << 8n) | BigInt(x), 0n);
const be32 = (n: bigint) => fromHex(n.toString(16).padStart(64, '0'), 32);
const bigLE = (b: Uint8Array) => bigBE(b.slice().reverse());
const le32 = (n: bigint) => be32(n).reverse();
const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
const Point = ed25519.Point;
type EdPoint = ReturnType<typeof Point.fromHex>;
const L = Point.Fn.ORDER;
const P = 2n ** 255n - 19n;
const TORSION: readonly EdPoint[] = ED25519_TORSION_SUBGROUP.map((h) => Point.fromHex(h, true));
const IDENTITY_HEX = '0100000000000000000000000000000000000000000000000000000000000000';
const challenge = (R: Uint8Array, A: Uint8Array, M: Uint8Array) => bigLE(sha512(concatBytes(R, A, M))) % L;
const timesSmall = (T: EdPoint, j: bigint) => {
  let acc = Point.ZERO;
  for (let i = 0n; i < mod(j, 8n); i++) acc = acc.add(T);
  return acc;
};

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  const at = bit % (out.length * 8);
  out[at >> 3]! ^= 1 << (at & 7);
  return out;
}

/** A secret key for `alg` from a 32-byte seed: the seed, then SHA-256 chained from it. */
function secretFrom(alg: Alg, seed: Uint8Array): Uint8Array {
  let next = seed;
  return secretKeyFrom(alg, (n) => {
    const out = next.slice(0, n);
    next = sha256(next);
    return out;
  });
}
const seedOf = (label: string) => sha256(utf8(label));

// --- the vectors ---

const present = vectorsDir() !== undefined; // under CI=true a missing folder throws here: the file fails
const wycheproof = present ? readWycheproofEddsa() : undefined;
const wycheproofCases: Case[] = (wycheproof?.testGroups ?? []).flatMap((g) =>
  g.tests.map((t) => ({
    name: `Wycheproof tcId ${t.tcId} (${t.result}${t.comment ? `: ${t.comment}` : ''})`,
    alg: 'ed25519' as const,
    pk: fromHex(g.key.pk),
    msg: bytesOrEmpty(t.msg),
    sig: bytesOrEmpty(t.sig),
    expected: t.result === 'valid',
  })),
);
const signInputCases: Case[] = (present ? readVector('ed25519/rfc8032_sign_input_first256.txt') : '')
  .split('\n')
  .filter((line) => line.length > 0)
  .flatMap((line, i) => {
    const [, pub, msg, sigMsg] = line.split(':') as [string, string, string, string];
    const c = { alg: 'ed25519' as const, pk: fromHex(pub, 32), msg: fromHex(msg), sig: fromHex(sigMsg.slice(0, 128), 64) };
    return [
      { ...c, name: `sign.input line ${i + 1}`, expected: true },
      { ...c, name: `sign.input line ${i + 1}, message + 00`, msg: concatBytes(c.msg, new Uint8Array([0])), expected: false },
    ];
  });

// --- the cases libraries differ on ---

function ed25519MustFail(): Case[] {
  const cases: Case[] = [];
  const msg = utf8('pop:link:v1:must-fail');
  const sk = secretFrom('ed25519', seedOf('ed25519 must-fail'));
  const { scalar: a, point: A, pointBytes: Ab } = ed25519.utils.getExtendedPublicKey(sk);
  const sig = sign('ed25519', sk, msg);
  const S = bigLE(sig.subarray(32));
  cases.push({ name: 'a fresh signature', alg: 'ed25519', pk: Ab, msg, sig, expected: true });
  // S + kL: the same point [S]B; S must be < L.
  for (let k = 1n; S + k * L < 2n ** 256n; k++) cases.push({ name: `S + ${k}L`, alg: 'ed25519', pk: Ab, msg, sig: concatBytes(sig.subarray(0, 32), le32(S + k * L)), expected: false });
  TORSION.forEach((T, t) => {
    const identity = T.is0();
    // R moved by T, S as signed; and R' = [r]B + T re-signed (the cofactored equation holds).
    const moved = Point.fromBytes(sig.subarray(0, 32)).add(T).toBytes();
    cases.push({ name: `R + T#${t}, S as signed`, alg: 'ed25519', pk: Ab, msg, sig: concatBytes(moved, sig.subarray(32)), expected: identity });
    const r = 1234567n + BigInt(t);
    const Rp = Point.BASE.multiply(r).add(T).toBytes();
    cases.push({ name: `R + T#${t}, re-signed`, alg: 'ed25519', pk: Ab, msg, sig: concatBytes(Rp, le32(mod(r + challenge(Rp, Ab, msg) * a, L))), expected: identity });
    // A mixed-order key A + T: valid iff [k]T = 0 (cofactorless).
    for (const r2 of [99n, 100n, 101n, 102n]) {
      const Am = A.add(T).toBytes();
      const R = Point.BASE.multiply(r2).toBytes();
      const k = challenge(R, Am, msg);
      cases.push({ name: `mixed-order key A + T#${t} (r = ${r2})`, alg: 'ed25519', pk: Am, msg, sig: concatBytes(R, le32(mod(r2 + k * a, L))), expected: timesSmall(T, k).is0() });
    }
    // A small-order key: (R, S) with R = [S]B − [j]A forges for some messages under the bare equation.
    const SB = Point.BASE.multiply(777n);
    for (let j = 0n; j < 8n; j++) {
      cases.push({ name: `small-order key T#${t}, j = ${j}`, alg: 'ed25519', pk: fromHex(ED25519_TORSION_SUBGROUP[t]!), msg, sig: concatBytes(SB.subtract(timesSmall(T, j)).toBytes(), le32(777n)), expected: false });
    }
  });
  // R a small-order point with S = k·a: only the canonical identity encoding verifies.
  for (const Rhex of [...ED25519_TORSION_SUBGROUP, 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', '0100000000000000000000000000000000000000000000000000000000000080']) {
    const R = fromHex(Rhex, 32);
    cases.push({ name: `R = ${Rhex}, S = k·a`, alg: 'ed25519', pk: Ab, msg, sig: concatBytes(R, le32(mod(challenge(R, Ab, msg) * a, L))), expected: Rhex === IDENTITY_HEX });
  }
  // Non-canonical key encodings (y ≥ p, or x = 0 with the sign bit), with a forgery for the identity.
  const forgery = concatBytes(Point.BASE.multiply(4242n).toBytes(), le32(4242n));
  for (let k = 0n; k < 19n; k++) {
    const y = le32(P + k);
    cases.push({ name: `key y = p + ${k}`, alg: 'ed25519', pk: y, msg, sig: forgery, expected: false });
    const neg = y.slice();
    neg[31]! |= 0x80;
    cases.push({ name: `key y = p + ${k}, sign bit`, alg: 'ed25519', pk: neg, msg, sig: forgery, expected: false });
  }
  cases.push({ name: 'key y = 1, x = −0', alg: 'ed25519', pk: fromHex('0100000000000000000000000000000000000000000000000000000000000080'), msg, sig: forgery, expected: false });
  // Wrong lengths.
  cases.push({ name: 'a 63-byte signature', alg: 'ed25519', pk: Ab, msg, sig: sig.subarray(0, 63), expected: false });
  cases.push({ name: 'a 31-byte key', alg: 'ed25519', pk: Ab.subarray(0, 31), msg, sig, expected: false });
  return cases;
}

function ecdsaMustFail(alg: 'ecdsa-p256' | 'ecdsa-secp256k1'): Case[] {
  const curve = alg === 'ecdsa-p256' ? p256 : secp256k1;
  const n = CURVE_ORDER[alg];
  const cases: Case[] = [];
  for (const label of ['one', 'two', 'three']) {
    const msg = utf8(`pop:link:v1:${label}`);
    const sk = secretFrom(alg, seedOf(`${alg} must-fail ${label}`));
    const pk = publicKeyFor(alg, sk);
    const sig = sign(alg, sk, msg);
    const r = bigBE(sig.subarray(0, 32));
    const s = bigBE(sig.subarray(32));
    const sigOf = (rr: bigint, ss: bigint) => concatBytes(be32(rr), be32(ss));
    cases.push({ name: `${label}: a fresh signature`, alg, pk, msg, sig, expected: true });
    cases.push({ name: `${label}: high-S`, alg, pk, msg, sig: sigOf(r, n - s), expected: false });
    for (const [rr, ss, what] of [[0n, s, 'r = 0'], [r, 0n, 's = 0'], [0n, 0n, 'r = s = 0'], [n, s, 'r = n'], [r, n, 's = n'], [2n ** 256n - 1n, s, 'r = 2^256 − 1'], [r, (n >> 1n) + 1n, 's = n/2 + 1']] as const) {
      cases.push({ name: `${label}: ${what}`, alg, pk, msg, sig: sigOf(rr, ss), expected: false });
    }
    if (r + n < 2n ** 256n) cases.push({ name: `${label}: r + n`, alg, pk, msg, sig: sigOf(r + n, s), expected: false });
    const x = pk.subarray(1);
    let offCurve = bigBE(x);
    for (;;) {
      offCurve++; // the next x that is not on the curve
      try {
        curve.Point.fromBytes(concatBytes(new Uint8Array([2]), be32(offCurve)));
      } catch {
        break;
      }
    }
    for (const [key, what] of [
      [concatBytes(new Uint8Array([pk[0]! ^ 1]), x), 'the negated key'],
      [concatBytes(new Uint8Array([4]), x), 'prefix 04 on 33 bytes'],
      [concatBytes(new Uint8Array([0]), x), 'prefix 00'],
      [concatBytes(new Uint8Array([5]), x), 'prefix 05'],
      [new Uint8Array(33), 'all zero (the point at infinity)'],
      [concatBytes(new Uint8Array([2]), new Uint8Array(32).fill(255)), 'x ≥ p'],
      [concatBytes(new Uint8Array([2]), be32(offCurve)), 'x of no point (off the curve)'],
      [curve.getPublicKey(sk, false), 'the key uncompressed (65 bytes)'],
    ] as const) {
      cases.push({ name: `${label}: key ${what}`, alg, pk: key, msg, sig, expected: false });
    }
    cases.push({ name: `${label}: a DER signature`, alg, pk, msg, sig: curve.sign(sha256(msg), sk, { prehash: false, lowS: true, format: 'der' }), expected: false });
  }
  return cases;
}

// ===================================================================================================

describe('backend choice', () => {
  test('Chromium: WebCrypto for Ed25519 and P-256 (it passes every probe), noble for secp256k1', async () => {
    const backends = await page.evaluate(() => (self as unknown as { popTest: { backends(): Promise<Backends> } }).popTest.backends());
    expect(backends).toEqual({ ed25519: 'WebCrypto', 'ecdsa-p256': 'WebCrypto', 'ecdsa-secp256k1': 'noble' });
  });

  test('each probe has the verdict core\'s rules give, and the invalid Ed25519 ones hold under the cofactored equation', () => {
    const message = utf8(PROBE_MESSAGE);
    for (const [alg, probes] of Object.entries(PROBES) as [Alg, (typeof PROBES)['ed25519']][]) {
      for (const p of probes) {
        const [pk, sig] = [fromHex(p.publicKey), fromHex(p.sig)];
        expect(nobleVerifier.verify(alg, pk, message, sig), p.what).toBe(p.valid);
        expect(nodeVerifier.verify(alg, pk, message, sig), p.what).toBe(p.valid);
        // a verifier with the cofactored (ZIP 215) equation accepts them: they tell the two apart
        if (alg === 'ed25519' && !p.valid) expect(ed25519.verify(sig, message, pk, { zip215: true }), p.what).toBe(true);
      }
    }
  });

  // The choice in browsers other than Chromium, with Node's WebCrypto (OpenSSL) standing in for one.
  const real = globalThis.crypto.subtle;
  const ed = (a: unknown) => (a as { name?: string }).name === 'Ed25519';
  /** Node's crypto.subtle with some methods replaced (its own methods need it as `this`). */
  const fake = (overrides: Partial<Record<'importKey' | 'verify', unknown>>) =>
    ({ importKey: real.importKey.bind(real), verify: real.verify.bind(real), ...overrides }) as unknown as SubtleCrypto;
  test('no crypto.subtle (not a secure context): noble for everything', async () => {
    expect(await detectBackends(undefined)).toEqual({ ed25519: 'noble', 'ecdsa-p256': 'noble', 'ecdsa-secp256k1': 'noble' });
  });
  test('a WebCrypto with P-256 and without Ed25519: noble for Ed25519 only', async () => {
    const noEd = fake({
      importKey: (...a: Parameters<SubtleCrypto['importKey']>) => (ed(a[2]) ? Promise.reject(new DOMException('no', 'NotSupportedError')) : real.importKey(...a)),
    });
    expect(await detectBackends(noEd)).toEqual({ ed25519: 'noble', 'ecdsa-p256': 'WebCrypto', 'ecdsa-secp256k1': 'noble' });
    expect(await detectBackends(real)).toEqual({ ed25519: 'WebCrypto', 'ecdsa-p256': 'WebCrypto', 'ecdsa-secp256k1': 'noble' });
  });
  test('a WebCrypto whose Ed25519 uses the cofactored equation fails the probes: noble for Ed25519', async () => {
    const keys = new WeakMap<CryptoKey, Uint8Array>();
    const cofactored = fake({
      importKey: async (...a: Parameters<SubtleCrypto['importKey']>) => {
        const key = await real.importKey(...a);
        keys.set(key, new Uint8Array(a[1] as ArrayBuffer));
        return key;
      },
      verify: (algorithm: Parameters<SubtleCrypto['verify']>[0], key: CryptoKey, sig: BufferSource, data: BufferSource) =>
        ed(algorithm) ? Promise.resolve(ed25519.verify(new Uint8Array(sig as ArrayBuffer), new Uint8Array(data as ArrayBuffer), keys.get(key)!, { zip215: true })) : real.verify(algorithm, key, sig, data),
    });
    expect(await detectBackends(cofactored)).toEqual({ ed25519: 'noble', 'ecdsa-p256': 'WebCrypto', 'ecdsa-secp256k1': 'noble' });
  });
  test('a key WebCrypto will not import, or a verify that throws: noble decides that one', async () => {
    const sk = secretFrom('ed25519', seedOf('refused key'));
    const pk = publicKeyFor('ed25519', sk);
    const msg = utf8('m');
    const sig = sign('ed25519', sk, msg);
    let refuse = false;
    const flaky = fake({
      importKey: (...a: Parameters<SubtleCrypto['importKey']>) => (refuse ? Promise.reject(new Error('refused')) : real.importKey(...a)),
    });
    const engine = new WebCryptoEngine(flaky);
    expect((await engine.backends).ed25519).toBe('WebCrypto');
    refuse = true;
    const v = new BrowserVerifier(engine);
    expect(await v.decide('ed25519', pk, msg, sig)).toEqual({ valid: true, by: 'noble' });
    expect(await v.decide('ed25519', pk, utf8('other'), sig)).toEqual({ valid: false, by: 'noble' });
    const throwing = fake({ verify: () => { throw new Error('broken'); } });
    const v2 = new BrowserVerifier(new WebCryptoEngine(throwing, { ed25519: 'WebCrypto', 'ecdsa-p256': 'WebCrypto', 'ecdsa-secp256k1': 'noble' }));
    expect(await v2.decide('ed25519', pk, msg, sig)).toEqual({ valid: true, by: 'noble' });
    expect(v2.uses()).toEqual([{ alg: 'ed25519', by: 'noble', count: 1 }]);
  });
});

describeVectors('in Chromium: the published Ed25519 vectors', () => {
  test('Wycheproof EdDSA: all 145 cases, WebCrypto-backed and noble agree with the file', async () => {
    expect(wycheproofCases).toHaveLength(wycheproof!.numberOfTests);
    expect(wycheproofCases).toHaveLength(145);
    const results = await expectAgreement(wycheproofCases);
    // WebCrypto decided both ways, not only the pre-checks
    expect(results.filter((r) => r.by === 'WebCrypto' && r.webcrypto).length).toBeGreaterThan(0);
    expect(results.filter((r) => r.by === 'WebCrypto' && !r.webcrypto).length).toBeGreaterThan(10);
  }, 120_000);

  test('RFC 8032 sign.input (first 256 lines): each verifies, and not with one more message byte', async () => {
    expect(signInputCases).toHaveLength(512);
    await expectAgreement(signInputCases);
  }, 120_000);
});

describe('in Chromium: the cases libraries differ on', () => {
  test('Ed25519: S ≥ L, R moved by a torsion point, mixed-order and small-order keys, non-canonical encodings', async () => {
    const cases = ed25519MustFail();
    const mixed = cases.filter((c) => c.name.startsWith('mixed-order'));
    expect(mixed.some((c) => c.expected) && mixed.some((c) => !c.expected)).toBe(true); // both branches
    const results = await expectAgreement(cases);
    // the mixed-order keys pass the pre-checks: WebCrypto's own equation decided them, cofactorless
    mixed.forEach((c) => expect(results[cases.indexOf(c)]!.by, c.name).toBe('WebCrypto'));
  }, 120_000);

  test('P-256: high-S, r or s out of range, malformed and off-curve keys, DER; WebCrypto alone would accept high-S', async () => {
    const cases = ecdsaMustFail('ecdsa-p256');
    const results = await expectAgreement(cases);
    const highS = cases.map((c, i) => [c, results[i]!] as const).filter(([c]) => c.name.endsWith('high-S'));
    expect(highS).toHaveLength(3);
    for (const [, r] of highS) expect(r).toMatchObject({ webcrypto: false, by: 'pre-check', raw: true });
  }, 120_000);

  test('secp256k1 (not in WebCrypto): noble decides, with the same rules', async () => {
    const cases = ecdsaMustFail('ecdsa-secp256k1');
    const { uses } = await inBrowser(cases);
    expect(uses.map((u) => u.by).filter((by) => by === 'WebCrypto')).toEqual([]);
    await expectAgreement(cases);
  }, 120_000);
});

describe('in Chromium: fast-check signatures, valid and with one bit flipped', () => {
  const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const msgArb = fc.uint8Array({ minLength: 0, maxLength: 200 });
  test.each(['ed25519', 'ecdsa-p256'] as const)('%s', async (alg) => {
    await fc.assert(
      fc.asyncProperty(seedArb, msgArb, fc.constantFrom('signature', 'message', 'key'), fc.nat(), async (seed, msg, where, bit) => {
        const sk = secretFrom(alg, seed);
        const pk = publicKeyFor(alg, sk);
        const sig = sign(alg, sk, msg);
        const mutated: Case =
          where === 'signature'
            ? { name: `signature bit ${bit}`, alg, pk, msg, sig: flipBit(sig, bit), expected: false }
            : where === 'message'
              ? { name: `message bit ${bit}`, alg, pk, msg: msg.length ? flipBit(msg, bit) : new Uint8Array([bit & 255]), sig, expected: false }
              : { name: `key bit ${bit}`, alg, pk: flipBit(pk, bit), msg, sig, expected: false };
        expect(equalBytes(mutated.pk, pk) && equalBytes(mutated.msg, msg) && equalBytes(mutated.sig, sig)).toBe(false);
        await expectAgreement([{ name: 'fresh', alg, pk, msg, sig, expected: true }, mutated]);
      }),
      { numRuns: 150 },
    );
  }, 180_000);
});

describe('in Chromium: core verifies the golden proofs and bundles through this backend', () => {
  const read = (name: string) => readFileSync(join(goldenDir, name), 'utf8');
  const keys = JSON.parse(read('keys.json')) as { notary: { publicKey: string } };
  const cases = [
    ...Object.entries(JSON.parse(read('verdicts.json')) as Record<string, string>).map(([file, verdict]) => ({ kind: 'proof', file, verdict })),
    ...Object.entries(JSON.parse(read('bundle-verdicts.json')) as Record<string, string>).map(([file, verdict]) => ({ kind: 'bundle', file, verdict })),
  ];
  test('there are proofs and bundles, good and bad', () => {
    expect(cases.filter((c) => c.kind === 'proof').length).toBeGreaterThan(10);
    expect(cases.filter((c) => c.kind === 'bundle').length).toBeGreaterThan(10);
  });
  test.each(cases)('$file → $verdict, with WebCrypto and with noble alone', async ({ kind, file, verdict }) => {
    for (const webcrypto of [true, false]) {
      const got = await page.evaluate(
        ([k, text, notary, w]) => (self as unknown as { popTest: { verify(k: string, t: string, n: string[], w: boolean): Promise<{ verdict: string; uses: SignatureUse[] }> } }).popTest.verify(k, text, [notary], w),
        [kind, read(file), keys.notary.publicKey, webcrypto] as const,
      );
      expect(got.verdict, `${webcrypto ? 'WebCrypto' : 'noble'}`).toBe(verdict);
      if (file.endsWith('order-42.json') || file.endsWith('link2-cosigned.json')) {
        // the golden keys: Ed25519 (notary, retailer, manufacturer), P-256 (customer), secp256k1 (bank, delivery)
        const by = new Set(got.uses.map((u) => `${u.alg}:${u.by}`));
        if (!webcrypto) expect([...by].sort()).toEqual(kind === 'proof' ? ['ed25519:noble'] : ['ecdsa-p256:noble', 'ecdsa-secp256k1:noble', 'ed25519:noble']);
        else if (kind === 'proof') expect([...by]).toEqual(['ed25519:WebCrypto']);
        else expect([...by].sort()).toEqual(['ecdsa-p256:WebCrypto', 'ecdsa-secp256k1:noble', 'ed25519:WebCrypto']);
      }
    }
  });
});
