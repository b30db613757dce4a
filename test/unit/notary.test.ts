// The notary signs with libsodium where it loads and with node:crypto otherwise: Ed25519 is
// deterministic, so both must give the very same signature, and it must verify under every verifier.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { fromHex } from '../../src/core/bytes.js';
import { nobleVerifier } from '../../src/core/noble-verifier.js';
import { ed25519Notary } from '../../src/node/notary.js';
import { sodium } from '../../src/node/sodium.js';
import { nodeVerifierWith } from '../../src/node/verifier.js';

describe('the notary key', () => {
  test('libsodium is loaded on this platform (the service signs and verifies with it)', () => {
    // Where sodium-native has no prebuild, the service still works (node:crypto); here it must load.
    if (process.env['POP_NO_SODIUM'] !== '1') expect(sodium).toBeDefined();
  });

  test('libsodium and node:crypto give byte-identical signatures, which verify under noble and OpenSSL', () => {
    if (!sodium) return;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), (seed, message) => {
        const viaSodium = ed25519Notary(Buffer.from(seed), 'k', sodium);
        const viaOpenssl = ed25519Notary(Buffer.from(seed), 'k', null);
        expect(viaSodium.publicKey).toBe(viaOpenssl.publicKey);
        const sig = viaSodium.sign(message);
        expect(sig).toBe(viaOpenssl.sign(message));
        const pk = fromHex(viaSodium.publicKey);
        expect(nobleVerifier.verify('ed25519', pk, message, fromHex(sig))).toBe(true);
        expect(nodeVerifierWith(undefined).verify('ed25519', pk, message, fromHex(sig))).toBe(true);
        const other = new Uint8Array([...message, 1]);
        expect(nodeVerifierWith(undefined).verify('ed25519', pk, other, fromHex(sig))).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  test('a seed that is not 32 bytes is refused', () => {
    expect(() => ed25519Notary(randomBytes(31))).toThrow(/32-byte/);
  });
});
