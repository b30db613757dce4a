// Ed25519 against Project Wycheproof's EdDSA verify vectors and the RFC 8032 / ed25519 reference
// sign.input vectors, through both verifiers (noble, pure JS; node:crypto, OpenSSL after libsodium),
// OpenSSL alone, and noble's signer.
import { describe, expect, test } from 'vitest';
import { concatBytes, fromHex, parseHex, toHex } from '../../src/core/bytes.js';
import { nobleVerifier, publicKeyFor, sign } from '../../src/core/noble-verifier.js';
import type { SignatureVerifier } from '../../src/core/signature.js';
import { nodeVerifier, nodeVerifierWith } from '../../src/node/verifier.js';
import { type WycheproofEddsaFile, describeVectors, readVector, readWycheproofEddsa, vectorsDir } from '../helpers/vectors.js';

const VERIFIERS: readonly SignatureVerifier[] = [nobleVerifier, nodeVerifier, { ...nodeVerifierWith(undefined), name: 'OpenSSL alone' }];

/** Hex that does not parse (odd length, ...) becomes bytes that can never verify. */
const bytesOrEmpty = (hex: string): Uint8Array => parseHex(hex.toLowerCase()) ?? new Uint8Array(0);

// --- Wycheproof ---

interface WycheproofCase {
  name: string;
  pk: Uint8Array;
  msg: Uint8Array;
  sig: Uint8Array;
  valid: boolean;
  flags: string[];
}

const wycheproof: WycheproofEddsaFile | undefined = vectorsDir() === undefined ? undefined : readWycheproofEddsa();

const wycheproofCases: WycheproofCase[] = (wycheproof?.testGroups ?? []).flatMap((group) =>
  group.tests.map((t) => ({
    name: `tcId ${t.tcId} (${t.result}${t.comment ? `: ${t.comment}` : ''}${t.flags.length ? ` [${t.flags.join(', ')}]` : ''})`,
    pk: fromHex(group.key.pk),
    msg: bytesOrEmpty(t.msg),
    sig: bytesOrEmpty(t.sig),
    valid: t.result === 'valid',
    flags: t.flags,
  })),
);

describeVectors('conformance: Wycheproof EdDSA', () => {
  test('every test case of the file is run (numberOfTests), including signature malleability', () => {
    expect(wycheproof?.algorithm).toBe('EDDSA');
    expect(wycheproofCases.length).toBe(wycheproof?.numberOfTests);
    expect(wycheproofCases.length).toBe(145);
    expect(wycheproofCases.some((c) => c.flags.includes('SignatureMalleability') && !c.valid)).toBe(true);
    expect(wycheproofCases.some((c) => c.valid)).toBe(true);
    // Wycheproof's "acceptable" verdict would need a policy; this file has none.
    expect(wycheproof?.testGroups.every((g) => g.tests.every((t) => t.result !== 'acceptable'))).toBe(true);
  });

  test.each(wycheproofCases)('$name', (c) => {
    for (const v of VERIFIERS) {
      expect(v.verify('ed25519', c.pk, c.msg, c.sig), v.name).toBe(c.valid);
    }
  });
});

// --- RFC 8032 §7.1 and the sign.input vectors ---

interface SignInputCase {
  line: number;
  secret: Uint8Array;
  pub: Uint8Array;
  msg: Uint8Array;
  sig: Uint8Array;
}

/** sign.input lines: secret‖pub : pub : msg : sig‖msg : (hex, colon-separated). */
function parseSignInput(text: string): SignInputCase[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line, i) => {
      const fields = line.split(':');
      const [secretPub, pub, msg, sigMsg, rest] = fields as [string, string, string, string, string];
      // Collection time, not a test: a malformed file throws (and fails the whole suite).
      if (fields.length !== 5 || rest !== '') throw new Error(`sign.input line ${i + 1}: not 4 fields`);
      if (secretPub.slice(64) !== pub) throw new Error(`sign.input line ${i + 1}: secret‖pub does not end with pub`);
      if (sigMsg.slice(128) !== msg) throw new Error(`sign.input line ${i + 1}: sig‖msg does not end with msg`);
      return {
        line: i + 1,
        secret: fromHex(secretPub.slice(0, 64), 32),
        pub: fromHex(pub, 32),
        msg: fromHex(msg),
        sig: fromHex(sigMsg.slice(0, 128), 64),
      };
    });
}

function checkSignCase(c: { secret: Uint8Array; pub: Uint8Array; msg: Uint8Array; sig: Uint8Array }): void {
  expect(toHex(publicKeyFor('ed25519', c.secret))).toBe(toHex(c.pub));
  expect(toHex(sign('ed25519', c.secret, c.msg))).toBe(toHex(c.sig));
  for (const v of VERIFIERS) {
    expect(v.verify('ed25519', c.pub, c.msg, c.sig), v.name).toBe(true);
    // and not for another message
    expect(v.verify('ed25519', c.pub, concatBytes(c.msg, new Uint8Array([0])), c.sig), v.name).toBe(false);
  }
}

// Typed in from RFC 8032 §7.1 (TEST 1, TEST 2, TEST 3).
const RFC8032 = [
  {
    name: 'TEST 1 (empty message)',
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pub: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b' +
      'd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2 (one byte)',
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pub: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c' +
      '387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3 (two bytes)',
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    pub: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    msg: 'af82',
    sig:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc659' +
      '4a7c15e9716ed28dc027beceea1ec40a',
  },
] as const;

describe('conformance: RFC 8032 §7.1 (typed from the RFC)', () => {
  test.each(RFC8032)('$name', (t) => {
    checkSignCase({ secret: fromHex(t.secret, 32), pub: fromHex(t.pub, 32), msg: fromHex(t.msg), sig: fromHex(t.sig, 64) });
  });
});

const signInput = vectorsDir() === undefined ? [] : parseSignInput(readVector('ed25519/rfc8032_sign_input_first256.txt'));

describeVectors('conformance: RFC 8032 §7.1 - ed25519 sign.input (first 256 lines)', () => {
  test('all 256 lines are read, and the typed TEST 1..3 are its first three lines', () => {
    expect(signInput.length).toBe(256);
    RFC8032.forEach((t, i) => {
      const c = signInput[i]!;
      expect([toHex(c.secret), toHex(c.pub), toHex(c.msg), toHex(c.sig)]).toEqual([t.secret, t.pub, t.msg, t.sig]);
    });
  });

  test.each(signInput)('line $line', (c) => {
    checkSignCase(c);
  });
});
