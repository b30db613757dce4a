// Verdicts beyond the golden set: each check of verifyProof fails with its own code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import {
  type ProofV1,
  VerificationError,
  blockHash,
  blockMessage,
  hasProofOfWork,
  fromHex,
  nobleVerifier,
  sign,
  toHex,
  verifyProof,
} from '../../src/core/index.js';

const golden = join(fileURLToPath(import.meta.url), '../../golden');
const load = (name: string): ProofV1 => JSON.parse(readFileSync(join(golden, 'proofs', name), 'utf8')) as ProofV1;
const keys = JSON.parse(readFileSync(join(golden, 'keys.json'), 'utf8')) as { notary: { publicKey: string; secretKey: string } };
const opts = { verifier: nobleVerifier, notaryKeys: [keys.notary.publicKey] };

function codeOf(proof: unknown, options: Parameters<typeof verifyProof>[1] = opts): string {
  try {
    return verifyProof(proof, options).status;
  } catch (e) {
    if (e instanceof VerificationError) return e.code;
    throw e;
  }
}

describe('verifyProof', () => {
  test('reports what it verified', () => {
    const r = verifyProof(load('link4-disclosed.json'), opts);
    expect(r.ok).toBe(true);
    expect(r.block.height).toBe(1);
    expect(r.history?.height).toBe(2);
    expect(r.notary.pinned).toBe(true);
    expect(r.signers.map((s) => s.signer)).toEqual(['bank', 'customer']);
    expect(r.disclosed).toEqual([{ field: 'iban', value: 'FR7630006000011234567890189' }]);
    expect(r.anchor).toBe('absent');
  });

  test('without pinned notary keys the proof verifies but says the key was not pinned', () => {
    const r = verifyProof(load('link0-history.json'), { verifier: nobleVerifier });
    expect(r.ok).toBe(true);
    expect(r.notary.pinned).toBe(false);
  });

  test('a pinned key that differs fails', () => {
    expect(codeOf(load('link0-history.json'), { ...opts, notaryKeys: ['00'.repeat(32)] })).toBe('NOTARY_KEY_MISMATCH');
  });

  test('anchor evidence is checked: incomplete evidence is malformed, a valid anchor is reported', () => {
    expect(codeOf({ ...load('link0-history.json'), anchor: { network: 'regtest' } })).toBe('MALFORMED');
    const r = verifyProof(load('link4-anchored.json'), opts);
    expect(r.ok).toBe(true);
    expect(r.anchor).toBe('verified');
    expect(r.anchored).toMatchObject({ network: 'regtest', blockHash: r.history?.hash, bestChain: 'not-checked' });
  });

  test.each<[string, (p: ProofV1) => unknown, string]>([
    ['another proof version', (p) => ({ ...p, type: 'pop/proof/v2' }), 'UNSUPPORTED_VERSION'],
    ['not an object', () => 'proof', 'MALFORMED'],
    ['uppercase hex', (p) => ({ ...p, linkHash: p.linkHash.toUpperCase() }), 'MALFORMED'],
    ['a string where a number is due', (p) => ({ ...p, inclusion: { ...p.inclusion, leafIndex: '0' } }), 'MALFORMED'],
    ['a missing field', (p) => ({ ...p, notary: undefined }), 'MALFORMED'],
    ['unknown link field', (p) => ({ ...p, link: { ...p.link, extra: 1 } }), 'MALFORMED'],
    ['impossible date', (p) => ({ ...p, link: { ...p.link, createdAt: '2026-02-30T00:00:00Z' } }), 'MALFORMED'],
    ['unsorted digests', (p) => ({ ...p, link: { ...p.link, digests: [...p.link.digests].reverse() } }), 'MALFORMED'],
    ['a stated linkHash that is not the link hash', (p) => ({ ...p, linkHash: 'a'.repeat(64) }), 'LINK_HASH_MISMATCH'],
    ['signature alg not the key alg', (p) => ({ ...p, signatures: [{ ...p.signatures[0]!, alg: 'ed25519' }] }), 'SIGNATURE_INVALID'],
    ['small-order key', (p) => ({ ...p, keys: [{ ...p.keys[0]!, alg: 'ed25519', publicKey: '01' + '00'.repeat(31) }], signatures: [{ ...p.signatures[0]!, alg: 'ed25519' }] }), 'KEY_INVALID'],
    ['a duplicate signature', (p) => ({ ...p, signatures: [p.signatures[0]!, p.signatures[0]!] }), 'MALFORMED'],
    ['tree size not the leaf count', (p) => ({ ...p, inclusion: { ...p.inclusion, treeSize: 4 } }), 'INCLUSION_INVALID'],
    ['history block not later', (p) => ({ ...p, history: { block: p.block, path: [] } }), 'HISTORY_INVALID'],
    ['disclosure not canonical', (p) => ({ ...p, disclosures: [' ' + JSON.stringify(['00'.repeat(32), 'x', 1])] }), 'DISCLOSURE_INVALID'],
    ['disclosure of another link', (p) => ({ ...p, disclosures: [JSON.stringify(['00'.repeat(32), 'x', 1])] }), 'DISCLOSURE_INVALID'],
  ])('%s → %s', (_, mutate, code) => {
    expect(codeOf(mutate(structuredClone(load('link0-history.json'))))).toBe(code);
  });

  test('a header with too little work fails even when the notary signed it', () => {
    const p = load('link0-history.json');
    const header = fromHex(p.history!.block.header);
    header[135] = header[135]! ^ 1; // another nonce: with 12 bits required, almost surely too little work
    const hash = blockHash(header);
    expect(hasProofOfWork(hash, 12)).toBe(false);
    const notarySig = toHex(sign('ed25519', fromHex(keys.notary.secretKey), blockMessage(toHex(hash))));
    expect(codeOf({ ...p, history: { ...p.history!, block: { header: toHex(header), notarySig } } })).toBe('POW_INSUFFICIENT');
  });
});

describe('a verifier may demand more than a header records', () => {
  test('minDifficulty: the golden chain (difficulty 12) verifies at 12 and is refused at 13 (POW_INSUFFICIENT)', () => {
    const proof = load('link4-disclosed.json');
    expect(verifyProof(proof, { ...opts, minDifficulty: 12 }).ok).toBe(true);
    expect(codeOf(proof, { ...opts, minDifficulty: 13 })).toBe('POW_INSUFFICIENT');
    expect(codeOf(proof, { ...opts, minDifficulty: Number.NaN })).toBe('POW_INSUFFICIENT'); // fails closed
  });
});

describe('disclosures in a proof', () => {
  test('two disclosed fields sharing one salt are refused (DISCLOSURE_INVALID), even when both match digests', async () => {
    const { makeDisclosure } = await import('../../src/core/index.js');
    // disclosedFields (proof-parts) is what verifyProof and verifyBundle check disclosures with.
    const { disclosedFields } = await import('../../src/core/proof-parts.js');
    const a = makeDisclosure('ab'.repeat(32), 'name', 'Camille');
    const b = makeDisclosure('ab'.repeat(32), 'city', 'Paris');
    let refused: unknown;
    try {
      disclosedFields([a.disclosure, b.disclosure], [a.digest, b.digest].sort());
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(VerificationError);
    expect((refused as VerificationError).code).toBe('DISCLOSURE_INVALID');
    expect((refused as VerificationError).message).toMatch(/reuses the salt/);
    const c = makeDisclosure('cd'.repeat(32), 'city', 'Paris');
    expect(disclosedFields([a.disclosure, c.disclosure], [a.digest, c.digest].sort()).map((d) => d.field)).toEqual(['name', 'city']);
  });
});
