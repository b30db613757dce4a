// docs/examples shows partners how to sign with nothing but openssl or node:crypto. Run those exact
// scripts and check that both of our verifiers accept what they produce.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { ALGS, fromHex, linkMessage, nobleVerifier } from '../../src/core/index.js';
import { nodeVerifier } from '../../src/node/verifier.js';

const root = join(fileURLToPath(import.meta.url), '../../..');
const keys = JSON.parse(readFileSync(join(root, 'test/golden/keys.json'), 'utf8')) as {
  participants: { alg: string; secretKey: string; publicKey: string }[];
};
const hashes = ['9d9a2ddb8574ffdf494e55ac30b6a8a2e90783716d642f9f53da364c37f0f258', ...Array.from({ length: 5 }, (_, i) => `${i}`.repeat(64))];
const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
})();

describe.each(ALGS)('partner signing examples: %s', (alg) => {
  const party = keys.participants.find((p) => p.alg === alg)!;
  const check = (hash: string, sig: string) => {
    expect(sig).toMatch(/^[0-9a-f]{128}$/);
    for (const v of [nobleVerifier, nodeVerifier]) {
      expect(v.verify(alg, fromHex(party.publicKey), linkMessage(hash), fromHex(sig)), v.name).toBe(true);
    }
  };

  test('docs/examples/sign-node.mjs', () => {
    for (const hash of hashes) {
      check(hash, execFileSync('node', [join(root, 'docs/examples/sign-node.mjs'), alg, party.secretKey, hash], { encoding: 'utf8' }).trim());
    }
  });

  test.runIf(hasOpenssl)('docs/examples/sign-openssl.sh', () => {
    for (const hash of hashes) {
      check(hash, execFileSync('bash', [join(root, 'docs/examples/sign-openssl.sh'), alg, party.secretKey, hash], { encoding: 'utf8' }).trim());
    }
  });
});
