// The two signature verifiers (noble, pure JS; node:crypto, OpenSSL) must give the same verdict on
// every input (core/signature.ts). Property tests over random keys and messages: fresh signatures,
// corrupted ones, and the inputs the libraries are known to differ on - non-canonical S, high-S,
// mixed- and small-order Ed25519 points (cofactored vs cofactorless equation), non-canonical point
// encodings, wrong lengths. Everywhere: noble's verdict === node:crypto's verdict === the expected one.
import { ed25519, ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { concatBytes, equalBytes, fromHex, toHex } from '../../src/core/bytes.js';
import { sha256 } from '../../src/core/hash.js';
import { nobleVerifier, publicKeyFor, secretKeyFrom, sign } from '../../src/core/noble-verifier.js';
import { ALGS, type Alg, CURVE_ORDER, PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../../src/core/signature.js';
import { sodium } from '../../src/node/sodium.js';
import { nodeVerifier, nodeVerifierWith } from '../../src/node/verifier.js';

/** OpenSSL alone: nodeVerifier asks libsodium first, and its verdicts must be exactly these. */
const opensslVerifier = nodeVerifierWith(undefined);
/** Ed25519 inputs libsodium refused and OpenSSL accepted (its "invalid" is not final: see src/node/verifier.ts). */
let sodiumStricter = 0;

type EcdsaAlg = Exclude<Alg, 'ed25519'>;
const ECDSA_ALGS: readonly EcdsaAlg[] = ['ecdsa-secp256k1', 'ecdsa-p256'];
const ECDSA_CURVE = { 'ecdsa-secp256k1': secp256k1, 'ecdsa-p256': p256 } as const;

const RUNS = 200;

// --- the central assertion ---

/** Both verdicts; fails the test (with the input) when they differ or either verifier throws. */
function agreed(alg: Alg, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const input = `${alg} pk=${toHex(publicKey)} msg=${toHex(message)} sig=${toHex(signature)}`;
  let noble: boolean | undefined;
  let node: boolean | undefined;
  expect(() => (noble = nobleVerifier.verify(alg, publicKey, message, signature)), `noble threw on ${input}`).not.toThrow();
  expect(() => (node = nodeVerifier.verify(alg, publicKey, message, signature)), `node:crypto threw on ${input}`).not.toThrow();
  expect(typeof noble, input).toBe('boolean');
  expect(noble, `noble and node:crypto disagree on ${input}`).toBe(node);
  const openssl = opensslVerifier.verify(alg, publicKey, message, signature);
  expect(node, `node:crypto with libsodium first and OpenSSL alone disagree on ${input}`).toBe(openssl);
  if (alg === 'ed25519' && sodium && publicKey.length === 32 && signature.length === 64) {
    const fast = sodium.crypto_sign_verify_detached(signature, message, publicKey);
    // libsodium's "valid" is final in nodeVerifier: it must never accept what OpenSSL refuses.
    if (fast) expect(openssl, `libsodium accepts what OpenSSL refuses: ${input}`).toBe(true);
    if (!fast && openssl) sodiumStricter++;
  }
  return noble!;
}

function expectVerdict(expected: boolean, alg: Alg, pk: Uint8Array, msg: Uint8Array, sig: Uint8Array, what: string): void {
  expect(agreed(alg, pk, msg, sig), `${what}: ${alg} pk=${toHex(pk)} msg=${toHex(msg)} sig=${toHex(sig)}`).toBe(expected);
}

// --- arbitraries ---

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const msgArb = fc.uint8Array({ minLength: 0, maxLength: 200 });

/** A secret key for `alg` from fast-check's bytes: the seed first, then SHA-256 chained from it. */
function secretFrom(alg: Alg, seed: Uint8Array): Uint8Array {
  let next = seed;
  return secretKeyFrom(alg, (n) => {
    const out = next.slice(0, n);
    next = sha256(next);
    return out;
  });
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  const at = bit % (out.length * 8);
  out[at >> 3]! ^= 1 << (at & 7);
  return out;
}

function bigFromBytesBE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}
function bytesBE32(n: bigint): Uint8Array {
  return fromHex(n.toString(16).padStart(64, '0'), 32);
}
function bigFromBytesLE(bytes: Uint8Array): bigint {
  return bigFromBytesBE(bytes.slice().reverse());
}
function bytesLE32(n: bigint): Uint8Array {
  return bytesBE32(n).reverse();
}

// --- Ed25519 by hand: enough of RFC 8032 to build the signatures the libraries disagree on ---

const Point = ed25519.Point;
type EdPoint = ReturnType<typeof Point.fromHex>;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;
const IDENTITY_HEX = '0100000000000000000000000000000000000000000000000000000000000000';
const TORSION: readonly EdPoint[] = ED25519_TORSION_SUBGROUP.map((h) => Point.fromHex(h, true));

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;

/** k = SHA-512(R || A || M) mod L. */
function challenge(R: Uint8Array, A: Uint8Array, M: Uint8Array): bigint {
  return bigFromBytesLE(sha512(concatBytes(R, A, M))) % L;
}

/** [j]T for a point of small order, by repeated addition (no scalar-range questions). */
function timesSmall(T: EdPoint, j: bigint): EdPoint {
  let acc = Point.ZERO;
  for (let i = 0n; i < mod(j, 8n); i++) acc = acc.add(T);
  return acc;
}

/** The cofactorless RFC 8032 equation, encode([S]B - [k]A) == R, for a signature with S < L. */
function cofactorlessHolds(A: EdPoint, Abytes: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const R = sig.subarray(0, 32);
  const S = bigFromBytesLE(sig.subarray(32));
  const k = challenge(R, Abytes, msg);
  const lhs = (S === 0n ? Point.ZERO : Point.BASE.multiply(S)).subtract(A.multiplyUnsafe(k));
  return equalBytes(lhs.toBytes(), R);
}

const scalarArb = fc.bigInt({ min: 1n, max: L - 1n });
const torsionIndexArb = fc.integer({ min: 0, max: TORSION.length - 1 });

// ===================================================================================================

describe.each(ALGS)('signature agreement: %s', (alg) => {
  test('(a) a fresh signature verifies under both verifiers', () => {
    fc.assert(
      fc.property(seedArb, msgArb, (seed, msg) => {
        const sk = secretFrom(alg, seed);
        const pk = publicKeyFor(alg, sk);
        const sig = sign(alg, sk, msg);
        expect(pk.length).toBe(PUBLIC_KEY_BYTES[alg]);
        expect(sig.length).toBe(SIGNATURE_BYTES);
        expectVerdict(true, alg, pk, msg, sig, 'fresh signature');
      }),
      { numRuns: RUNS },
    );
  });

  test('(b) a flipped signature bit, a changed message or another key: both say false', () => {
    fc.assert(
      fc.property(
        seedArb,
        msgArb,
        fc.constantFrom('signature bit', 'message', 'other key'),
        fc.nat(),
        seedArb,
        (seed, msg, corruption, bit, otherSeed) => {
          const sk = secretFrom(alg, seed);
          const pk = publicKeyFor(alg, sk);
          const sig = sign(alg, sk, msg);
          if (corruption === 'signature bit') {
            expectVerdict(false, alg, pk, msg, flipBit(sig, bit), corruption);
          } else if (corruption === 'message') {
            const other = msg.length === 0 ? new Uint8Array([bit & 255]) : flipBit(msg, bit);
            expectVerdict(false, alg, pk, other, sig, corruption);
          } else {
            const otherPk = publicKeyFor(alg, secretFrom(alg, otherSeed));
            expectVerdict(equalBytes(otherPk, pk), alg, otherPk, msg, sig, corruption);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('(b) random garbage keys and signatures: both agree (and say false)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: PUBLIC_KEY_BYTES[alg], maxLength: PUBLIC_KEY_BYTES[alg] }),
        fc.boolean(),
        msgArb,
        fc.uint8Array({ minLength: SIGNATURE_BYTES, maxLength: SIGNATURE_BYTES }),
        (pk, fixPrefix, msg, sig) => {
          // for ECDSA, half the time a well-formed compressed prefix so that the point decoding is reached
          if (alg !== 'ed25519' && fixPrefix) pk[0] = 2 + (pk[0]! & 1);
          expectVerdict(false, alg, pk, msg, sig, 'garbage');
        },
      ),
      { numRuns: 100 },
    );
  });

  test('(d) wrong-length keys and signatures return false and never throw', () => {
    fc.assert(
      fc.property(seedArb, msgArb, fc.nat(), (seed, msg, n) => {
        const sk = secretFrom(alg, seed);
        const pk = publicKeyFor(alg, sk);
        const sig = sign(alg, sk, msg);
        const zero = new Uint8Array([0]);
        const badSigs = [
          new Uint8Array(0),
          sig.subarray(0, 63),
          concatBytes(sig, zero),
          concatBytes(zero, sig),
          concatBytes(sig, sig),
          sig.subarray(0, n % 64),
        ];
        const badKeys = [new Uint8Array(0), pk.subarray(0, pk.length - 1), concatBytes(pk, zero), concatBytes(zero, pk)];
        if (alg !== 'ed25519') {
          const curve = ECDSA_CURVE[alg];
          badKeys.push(curve.getPublicKey(sk, false)); // the same key, uncompressed (65 bytes)
          badKeys.push(pk.subarray(1)); // the bare x coordinate (32 bytes)
          badSigs.push(curve.sign(sha256(msg), sk, { prehash: false, lowS: true, format: 'der' })); // DER
        }
        for (const s of badSigs) expectVerdict(false, alg, pk, msg, s, `signature of ${s.length} bytes`);
        for (const k of badKeys) expectVerdict(false, alg, k, msg, sig, `key of ${k.length} bytes`);
        // and the other algorithms refuse this key and signature
        for (const other of ALGS) {
          if (other !== alg) expectVerdict(false, other, pk, msg, sig, `under ${other}`);
        }
      }),
      { numRuns: 50 },
    );
  });
});

// --- (c) non-canonical signatures ---

describe('signature agreement: ed25519 non-canonical signatures', () => {
  test('(c) S replaced by S + L (the same signature, unreduced) is rejected by both', () => {
    fc.assert(
      fc.property(seedArb, msgArb, fc.integer({ min: 1, max: 15 }), (seed, msg, times) => {
        const sk = secretFrom('ed25519', seed);
        const pk = publicKeyFor('ed25519', sk);
        const sig = sign('ed25519', sk, msg);
        const S = bigFromBytesLE(sig.subarray(32));
        expect(S < L).toBe(true);
        const plusL = concatBytes(sig.subarray(0, 32), bytesLE32(S + L));
        expectVerdict(false, 'ed25519', pk, msg, plusL, 'S + L');
        // S + k·L as long as it fits in 256 bits: the same point [S]B, so a verifier that skips the
        // S < L check would accept these (noble's own ed25519.verify does reduce, hence the pre-check)
        if (S + BigInt(times) * L < 2n ** 256n) {
          expectVerdict(false, 'ed25519', pk, msg, concatBytes(sig.subarray(0, 32), bytesLE32(S + BigInt(times) * L)), 'S + kL');
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('(c) R replaced by R + T (T of small order): rejected by both, with S as signed and with S re-signed for the new R', () => {
    fc.assert(
      fc.property(seedArb, msgArb, scalarArb, torsionIndexArb, (seed, msg, r, t) => {
        const sk = secretFrom('ed25519', seed);
        const { scalar: a, point: A, pointBytes: Abytes } = ed25519.utils.getExtendedPublicKey(sk);
        expect(toHex(Abytes)).toBe(toHex(publicKeyFor('ed25519', sk)));
        const T = TORSION[t]!;
        const isIdentity = T.is0();

        // 1. A real signature with its R moved by T: the challenge changes too, so it fails everywhere.
        const sig = sign('ed25519', sk, msg);
        const moved = Point.fromBytes(sig.subarray(0, 32)).add(T).toBytes();
        expectVerdict(isIdentity, 'ed25519', Abytes, msg, concatBytes(moved, sig.subarray(32)), 'R + T, original S');

        // 2. Signed for R' = [r]B + T: S = r + k·a with k = H(R' || A || M). Then [S]B - [k]A = [r]B = R' - T,
        //    so the cofactored equation ([8][S]B = [8]R' + [8][k]A) holds but the cofactorless one does not.
        const Rp = Point.BASE.multiply(r).add(T).toBytes();
        const k = challenge(Rp, Abytes, msg);
        const forged = concatBytes(Rp, bytesLE32(mod(r + k * a, L)));
        expect(cofactorlessHolds(A, Abytes, msg, forged)).toBe(isIdentity); // the construction is right
        expectVerdict(isIdentity, 'ed25519', Abytes, msg, forged, 'R + T, re-signed');
      }),
      { numRuns: RUNS },
    );
  });

  test('(c) mixed-order public key A + T: both apply the cofactorless equation (valid iff [k]T = 0)', () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(seedArb, msgArb, scalarArb, torsionIndexArb, (seed, msg, r, t) => {
        const { scalar: a, point: A } = ed25519.utils.getExtendedPublicKey(secretFrom('ed25519', seed));
        const T = TORSION[t]!;
        const Amixed = A.add(T);
        const Abytes = Amixed.toBytes();
        const R = Point.BASE.multiply(r).toBytes();
        const k = challenge(R, Abytes, msg);
        const sig = concatBytes(R, bytesLE32(mod(r + k * a, L)));
        // [S]B - [k](A + T) = R - [k]T
        const expected = timesSmall(T, k).is0();
        expect(cofactorlessHolds(Amixed, Abytes, msg, sig)).toBe(expected);
        expectVerdict(expected, 'ed25519', Abytes, msg, sig, `mixed-order key (T #${t})`);
        if (expected) accepted++;
        else rejected++;
      }),
      { numRuns: RUNS },
    );
    // both branches were exercised
    expect(accepted).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });

  test('(c) R a small-order point with S = k·a ([S]B - [k]A = identity): only the canonical identity encoding verifies', () => {
    const encodings = [
      ...ED25519_TORSION_SUBGROUP,
      'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p + 1: the identity, non-canonical
      'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', // the same with the x sign bit set
      '0100000000000000000000000000000000000000000000000000000000000080', // the identity with "negative zero" x
    ];
    fc.assert(
      fc.property(seedArb, msgArb, (seed, msg) => {
        const sk = secretFrom('ed25519', seed);
        const { scalar: a, pointBytes: Abytes } = ed25519.utils.getExtendedPublicKey(sk);
        for (const Rhex of encodings) {
          const R = fromHex(Rhex, 32);
          const k = challenge(R, Abytes, msg);
          const sig = concatBytes(R, bytesLE32(mod(k * a, L)));
          expectVerdict(Rhex === IDENTITY_HEX, 'ed25519', Abytes, msg, sig, `R = ${Rhex}`);
        }
      }),
      { numRuns: 10 },
    );
    // The identity R ("nonce zero") verifies per RFC 8032 but not in libsodium: OpenSSL decided it.
    if (sodium) expect(sodiumStricter).toBeGreaterThan(0);
  });
});

describe.each(ECDSA_ALGS)('signature agreement: %s non-canonical signatures', (alg) => {
  const n = CURVE_ORDER[alg];
  const curve = ECDSA_CURVE[alg];

  test('(c) high-S (s -> n - s) is rejected by both, though the curve equation holds', () => {
    fc.assert(
      fc.property(seedArb, msgArb, (seed, msg) => {
        const sk = secretFrom(alg, seed);
        const pk = publicKeyFor(alg, sk);
        const sig = sign(alg, sk, msg);
        const s = bigFromBytesBE(sig.subarray(32));
        expect(s <= n >> 1n).toBe(true); // sign() gives low-S
        const high = concatBytes(sig.subarray(0, 32), bytesBE32(n - s));
        // mathematically valid: a verifier without the low-S rule accepts it
        expect(curve.verify(high, sha256(msg), pk, { prehash: false, lowS: false, format: 'compact' })).toBe(true);
        expectVerdict(false, alg, pk, msg, high, 'high-S');
      }),
      { numRuns: RUNS },
    );
  });

  test('(c) r = 0, s = 0, r >= n, s >= n are rejected by both', () => {
    fc.assert(
      fc.property(seedArb, msgArb, (seed, msg) => {
        const sk = secretFrom(alg, seed);
        const pk = publicKeyFor(alg, sk);
        const sig = sign(alg, sk, msg);
        const r = bigFromBytesBE(sig.subarray(0, 32));
        const s = bigFromBytesBE(sig.subarray(32));
        const cases: [bigint, bigint, string][] = [
          [0n, s, 'r = 0'],
          [r, 0n, 's = 0'],
          [0n, 0n, 'r = s = 0'],
          [n, s, 'r = n'],
          [2n ** 256n - 1n, s, 'r = 2^256 - 1'],
          [r, n, 's = n'],
          [r, 2n ** 256n - 1n, 's = 2^256 - 1'],
          [r, (n >> 1n) + 1n, 's = n/2 + 1'],
        ];
        if (r + n < 2n ** 256n) cases.push([r + n, s, 'r + n']);
        for (const [rr, ss, what] of cases) {
          expectVerdict(false, alg, pk, msg, concatBytes(bytesBE32(rr), bytesBE32(ss)), what);
        }
      }),
      { numRuns: 50 },
    );
  });

  test('(d) malformed compressed keys are rejected by both', () => {
    fc.assert(
      fc.property(seedArb, msgArb, (seed, msg) => {
        const sk = secretFrom(alg, seed);
        const pk = publicKeyFor(alg, sk);
        const sig = sign(alg, sk, msg);
        const x = pk.subarray(1);
        const keys: [Uint8Array, string][] = [
          [concatBytes(new Uint8Array([pk[0]! ^ 1]), x), 'the other y (the negated key)'],
          [concatBytes(new Uint8Array([4]), x), 'prefix 04 on 33 bytes'],
          [concatBytes(new Uint8Array([0]), x), 'prefix 00'],
          [concatBytes(new Uint8Array([5]), x), 'prefix 05'],
          [new Uint8Array(33), 'all zero (the point at infinity)'],
          [concatBytes(new Uint8Array([2]), new Uint8Array(32).fill(255)), 'x >= p'],
        ];
        for (const [key, what] of keys) expectVerdict(false, alg, key, msg, sig, what);
      }),
      { numRuns: 30 },
    );
  });
});

// --- (d) small-order and non-canonical Ed25519 public keys ---

describe('signature agreement: ed25519 small-order and non-canonical public keys', () => {
  test('(d) each small-order key is rejected, even with signatures the bare equation accepts', () => {
    let forgeries = 0;
    fc.assert(
      fc.property(msgArb, scalarArb, (msg, S) => {
        const SB = Point.BASE.multiply(S);
        ED25519_TORSION_SUBGROUP.forEach((Ahex, t) => {
          const A = TORSION[t]!;
          const Abytes = fromHex(Ahex, 32);
          expect(A.isSmallOrder()).toBe(true);
          // R = [S]B - [j]A for each j: whenever [k]A = [j]A, (R, S) satisfies [S]B - [k]A = R for this message
          for (let j = 0n; j < 8n; j++) {
            const sig = concatBytes(SB.subtract(timesSmall(A, j)).toBytes(), bytesLE32(S));
            if (cofactorlessHolds(A, Abytes, msg, sig)) forgeries++;
            expectVerdict(false, 'ed25519', Abytes, msg, sig, `small-order key ${Ahex}`);
          }
        });
      }),
      { numRuns: 5 },
    );
    expect(forgeries).toBeGreaterThan(0); // the identity key alone makes every candidate a forgery
  });

  test('(d) non-canonical encodings (y >= p, or x = 0 with the sign bit) are rejected', () => {
    const encodings: string[] = [];
    for (let k = 0n; k < 19n; k++) {
      const y = bytesLE32(P + k);
      encodings.push(toHex(y));
      y[31]! |= 0x80;
      encodings.push(toHex(y));
    }
    encodings.push(
      '0100000000000000000000000000000000000000000000000000000000000080', // y = 1, x = -0
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', // y = p - 1, x = -0
    );
    // a lenient (ZIP 215) decoder accepts several of them: y = p + 1 is the identity, y = p is a point of order 4
    const lenient = encodings.filter((h) => {
      try {
        Point.fromHex(h, true);
        return true;
      } catch {
        return false;
      }
    });
    expect(lenient.length).toBeGreaterThan(2);
    fc.assert(
      fc.property(msgArb, scalarArb, (msg, S) => {
        // (R, S) with R = [S]B: a forgery for any key that decodes to the identity
        const sig = concatBytes(Point.BASE.multiply(S).toBytes(), bytesLE32(S));
        for (const Ahex of encodings) {
          expectVerdict(false, 'ed25519', fromHex(Ahex, 32), msg, sig, `non-canonical key ${Ahex}`);
        }
      }),
      { numRuns: 10 },
    );
  });
});
