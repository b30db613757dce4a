// libsodium through sodium-native's prebuilt addon: Ed25519 signing and verification in about half
// the time OpenSSL (node:crypto) takes on this machine (50 vs 108 µs a verification, 17 vs 36 µs a
// signature: docs/performance.md). Optional: where the addon does not load (a platform without a
// prebuild), everything falls back to node:crypto with the same results.
import { createRequire } from 'node:module';

/** The part of sodium-native this project uses. */
export interface Sodium {
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void;
  crypto_sign_seed_keypair(publicKey: Uint8Array, secretKey: Uint8Array, seed: Uint8Array): void;
}

function load(): Sodium | undefined {
  if (process.env['POP_NO_SODIUM'] === '1') return undefined;
  try {
    return createRequire(import.meta.url)('sodium-native') as Sodium;
  } catch {
    return undefined;
  }
}

/** libsodium, or undefined where it is unavailable (or POP_NO_SODIUM=1: node:crypto alone). */
export const sodium: Sodium | undefined = load();
