// The golden files are the published examples of docs/protocol.md: the code must still reproduce
// them byte for byte, and every verifier (noble and node:crypto) must give each proof its verdict.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { buildGolden } from '../scripts/golden.js';
import { renderDocs } from '../scripts/docs.js';
import { VerificationError, nobleVerifier, verifyProof } from '../src/core/index.js';
import { nodeVerifier } from '../src/node/verifier.js';

const root = join(fileURLToPath(import.meta.url), '../..');
const goldenDir = join(root, 'test/golden');
const golden = buildGolden();

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

describe('golden files', () => {
  test('the generator produces exactly the committed set of files', () => {
    expect(listFiles(goldenDir).sort()).toEqual([...golden.keys()].sort());
  });

  test.each([...golden.keys()])('%s is reproduced byte for byte', (name) => {
    expect(readFileSync(join(goldenDir, name), 'utf8')).toBe(golden.get(name));
  });

  test('docs/protocol.md quotes the current golden values', () => {
    const path = join(root, 'docs/protocol.md');
    expect(readFileSync(path, 'utf8')).toBe(renderDocs(path, golden));
  });

  const verdicts = JSON.parse(golden.get('verdicts.json')!) as Record<string, string>;
  const notary = (JSON.parse(golden.get('keys.json')!) as { notary: { publicKey: string } }).notary.publicKey;
  test('there are good and bad proofs', () => {
    expect(Object.values(verdicts).filter((v) => v === 'verified').length).toBeGreaterThanOrEqual(3);
    expect(new Set(Object.values(verdicts)).size).toBeGreaterThanOrEqual(10);
  });
  for (const verifier of [nobleVerifier, nodeVerifier]) {
    test.each(Object.entries(verdicts))(`${verifier.name}: %s → %s`, (file, expected) => {
      const proof: unknown = JSON.parse(readFileSync(join(goldenDir, file), 'utf8'));
      let got: string;
      try {
        got = verifyProof(proof, { verifier, notaryKeys: [notary] }).status;
      } catch (e) {
        if (!(e instanceof VerificationError)) throw e;
        got = e.code;
      }
      expect(got).toBe(expected);
    });
  }
});
