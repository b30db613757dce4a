// Writes a large, valid pop/bundle/v1 for the verification benchmark: N orders of the golden
// order-to-cash process (5 links each, two of them co-signed), progressing side by side, sealed into
// blocks of 500 links, the last block anchored in a regtest Bitcoin block.
//
//   node --import tsx scripts/make-bundle.ts --maps 2000 --out /tmp/bundle-10k.json [--alg ed25519|mixed] [--disclose]
//   pop verify /tmp/bundle-10k.json --notary-key <printed key>
//
// --alg mixed gives the parties the golden algorithms (ECDSA P-256 and secp256k1 for some); the
// default gives every party an Ed25519 key. --disclose adds every private field's disclosure.
import { createPrivateKey, sign as nodeSign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type Alg, type Json, type Link, linkHash, makeDisclosure, publicKeyFor, sha256, sign, toHex, utf8 } from '../src/core/index.js';
import { type BuildLink, type Signer, buildBundle } from './bundle-builder.js';
import { GOLDEN_PROCESS } from './golden.js';

const { values } = parseArgs({
  options: {
    maps: { type: 'string', default: '2000' },
    out: { type: 'string' },
    alg: { type: 'string', default: 'ed25519' },
    disclose: { type: 'boolean', default: false },
    'block-size': { type: 'string', default: '500' },
  },
});
const maps = Number(values.maps);
if (!Number.isSafeInteger(maps) || maps < 1 || !values.out) {
  console.error('usage: make-bundle.ts --maps <n> --out <file> [--alg ed25519|mixed] [--disclose] [--block-size n]');
  process.exit(2);
}

const seed = (label: string) => sha256(utf8(`pop-bench:${label}`));
const mixed = values.alg === 'mixed';
const party = (id: string, alg: Alg): Signer => {
  const secretKey = seed(`key:${id}`);
  return { participant: id, keyId: `${id}-1`, alg: mixed ? alg : 'ed25519', secretKey, publicKey: toHex(publicKeyFor(mixed ? alg : 'ed25519', secretKey)) };
};
const P = {
  customer: party('customer', 'ecdsa-p256'),
  retailer: party('retailer', 'ed25519'),
  manufacturer: party('manufacturer', 'ed25519'),
  delivery: party('delivery', 'ecdsa-secp256k1'),
  bank: party('bank', 'ecdsa-secp256k1'),
};
const notarySecret = seed('key:notary');
const notary = { keyId: 'notary-bench', secretKey: notarySecret, publicKey: toHex(publicKeyFor('ed25519', notarySecret)) };

// Ed25519 through node:crypto (20x faster than noble for signing); ECDSA through noble (RFC 6979, low-S).
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const keyCache = new Map<string, ReturnType<typeof createPrivateKey>>();
const fastSign = (alg: Alg, secretKey: Uint8Array, message: Uint8Array): Uint8Array => {
  if (alg !== 'ed25519') return sign(alg, secretKey, message);
  const id = toHex(secretKey);
  let key = keyCache.get(id);
  if (!key) keyCache.set(id, (key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, secretKey]), format: 'der', type: 'pkcs8' })));
  return new Uint8Array(nodeSign(null, message, key));
};

const STEPS: { step: string; author: Signer; cosigners: Signer[]; meta: Record<string, Json>; priv: Record<string, Json>; tags: string[] }[] = [
  { step: 'order', author: P.customer, cosigners: [], meta: { currency: 'EUR', lines: 2, total: 129.9 }, priv: { address: 'Rue de la Paix 1, Paris', name: 'Camille Martin' }, tags: ['b2c'] },
  { step: 'confirm', author: P.retailer, cosigners: [], meta: { promisedBy: '2026-11-09' }, priv: {}, tags: [] },
  { step: 'produce', author: P.manufacturer, cosigners: [P.retailer], meta: { batch: 'B-7781', units: 2 }, priv: { cost: 41.25 }, tags: ['eu-made'] },
  { step: 'ship', author: P.delivery, cosigners: [], meta: { carrier: 'ACME Freight', parcels: 1 }, priv: { trackingUrl: 'https://track.example/Z91' }, tags: [] },
  { step: 'pay', author: P.bank, cosigners: [P.customer], meta: { amount: 129.9, currency: 'EUR' }, priv: { iban: 'FR7630006000011234567890189' }, tags: ['sepa'] },
];

const baseTime = Date.UTC(2026, 10, 2, 9, 0, 0);
const heads: string[] = [];
const input: BuildLink[] = [];
let salt = 0;
const started = Date.now();
// All orders advance one step at a time, as concurrent orders would.
STEPS.forEach((s, stepIndex) => {
  for (let m = 0; m < maps; m++) {
    const disclosures = Object.keys(s.priv).sort().map((field) => makeDisclosure(toHex(seed(`salt:${salt++}`)), field, s.priv[field]!));
    const link: Link = {
      v: 1,
      process: 'order-to-cash',
      processVersion: 1,
      mapId: `order-${m}`,
      step: s.step,
      prev: stepIndex === 0 ? [] : [heads[m]!],
      refs: [],
      meta: s.meta,
      tags: s.tags,
      digests: disclosures.map((d) => d.digest).sort(),
      author: s.author.participant,
      createdAt: new Date(baseTime + stepIndex * 3_600_000 + m).toISOString(),
    };
    heads[m] = linkHash(link);
    input.push({ link, signers: [s.author, ...s.cosigners], ...(values.disclose && disclosures.length ? { disclosures: disclosures.map((d) => d.disclosure) } : {}) });
  }
});
const bundle = buildBundle(input, {
  scope: { process: 'order-to-cash', from: '2026-11-02T00:00:00Z', to: '2026-11-03T00:00:00Z' },
  createdAt: new Date(baseTime + 2 * 86_400_000).toISOString(),
  notary,
  processes: [{ version: 1, definition: GOLDEN_PROCESS }],
  blockSize: Number(values['block-size']),
  baseTime: baseTime + 86_400_000,
  sign: fastSign,
});
writeFileSync(values.out, JSON.stringify(bundle));
console.error(`wrote ${values.out}: ${bundle.links.length} links in ${bundle.blocks.length} blocks, ${bundle.links.reduce((n, l) => n + l.signatures.length, 0)} signatures (${mixed ? 'golden algorithms' : 'Ed25519'}), ${Date.now() - started} ms`);
console.error(`notary key: ${notary.publicKey}`);

