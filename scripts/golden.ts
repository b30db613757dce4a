// Golden files: a small, fully deterministic ledger (keys from fixed seeds, fixed timestamps and salts)
// computed by src/core. `npm run generate` writes them to test/golden/; test/golden.test.ts recomputes
// them and fails on any difference; docs/protocol.md quotes them. An independent implementation
// written from docs/protocol.md must reproduce every hash, signature and verdict in here.
import {
  type Alg,
  type Json,
  type Link,
  LinkTree,
  MemoryHistory,
  ZERO_HASH,
  blockHash,
  blockMessage,
  canonicalJson,
  encodeHeader,
  fromHex,
  linkHash,
  linkMessage,
  makeDisclosure,
  mineRange,
  publicKeyFor,
  receiptMessage,
  sha256,
  decodeHeader,
  hasProofOfWork,
  leafHash,
  rootOfLeafHashes,
  sign,
  toHex,
  utf8,
  nobleVerifier,
  verifyProof,
  VerificationError,
  type HeaderFields,
  type ProofV1,
  type AnchorEvidence,
  anchorPayload,
  concatBytes,
  hashToBigInt,
  parseBitcoinHeader,
  parseTransaction,
  sha256d,
  targetFromBits,
  verifyAnchor,
  type BundleV1,
  type ProcessDefinition,
  bundleDigest,
  bundleManifestMessage,
  bundleVerdict,
  sha256Hex,
  verifyBundle,
} from '../src/core/index.js';
import { buildRegtestAnchor } from './bitcoin-regtest.js';

const seed = (label: string): Uint8Array => sha256(utf8(`pop-golden:${label}`));
const json = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';

interface Party {
  participant: string;
  keyId: string;
  alg: Alg;
  secretKey: string;
  publicKey: string;
}

function party(participant: string, alg: Alg): Party {
  const secret = seed(`key:${participant}`);
  return { participant, keyId: `${participant}-1`, alg, secretKey: toHex(secret), publicKey: toHex(publicKeyFor(alg, secret)) };
}

const PARTIES = {
  customer: party('customer', 'ecdsa-p256'),
  retailer: party('retailer', 'ed25519'),
  manufacturer: party('manufacturer', 'ed25519'),
  delivery: party('delivery', 'ecdsa-secp256k1'),
  bank: party('bank', 'ecdsa-secp256k1'),
};
const NOTARY = { keyId: 'notary-1', alg: 'ed25519' as const, secretKey: toHex(seed('key:notary')) };
const NOTARY_PUBLIC = toHex(publicKeyFor('ed25519', fromHex(NOTARY.secretKey)));
const DIFFICULTY = 12;
const BASE_TIME = Date.UTC(2026, 10, 2, 9, 0, 0);

function signAs(p: Party, hash: string) {
  return { signer: p.participant, keyId: p.keyId, alg: p.alg, sig: toHex(sign(p.alg, fromHex(p.secretKey), linkMessage(hash))) };
}
const keyRecord = (p: Party) => ({ participant: p.participant, keyId: p.keyId, alg: p.alg, publicKey: p.publicKey });

type Step = { step: string; author: Party; cosigners: Party[]; meta: Record<string, Json>; priv: Record<string, Json>; tags: string[] };
const STEPS: Step[] = [
  { step: 'order', author: PARTIES.customer, cosigners: [], meta: { currency: 'EUR', lines: 2, total: 129.9 }, priv: { address: 'Rue de la Paix 1, Paris', name: 'Camille Martin' }, tags: ['b2c'] },
  { step: 'confirm', author: PARTIES.retailer, cosigners: [], meta: { promisedBy: '2026-11-09' }, priv: {}, tags: [] },
  { step: 'produce', author: PARTIES.manufacturer, cosigners: [PARTIES.retailer], meta: { batch: 'B-7781', units: 2 }, priv: { cost: 41.25 }, tags: ['eu-made'] },
  { step: 'ship', author: PARTIES.delivery, cosigners: [], meta: { carrier: 'ACME Freight', parcels: 1 }, priv: { trackingUrl: 'https://track.example/Z91' }, tags: [] },
  { step: 'pay', author: PARTIES.bank, cosigners: [PARTIES.customer], meta: { amount: 129.9, currency: 'EUR' }, priv: { iban: 'FR7630006000011234567890189' }, tags: ['sepa'] },
];

export function buildGolden(): Map<string, string> {
  const files = new Map<string, string>();
  let saltCounter = 0;
  const links: { link: Link; canonical: string; linkHash: string; signingMessage: string; signatures: ReturnType<typeof signAs>[]; disclosures: ReturnType<typeof makeDisclosure>[] }[] = [];
  let prev: string[] = [];
  STEPS.forEach((s, i) => {
    const disclosures = Object.keys(s.priv)
      .sort()
      .map((field) => makeDisclosure(toHex(seed(`salt:${saltCounter++}`)), field, s.priv[field]!));
    const link: Link = {
      v: 1,
      process: 'order-to-cash',
      processVersion: 1,
      mapId: 'order-42',
      step: s.step,
      prev,
      refs: i === 4 ? [{ linkHash: links[0]!.linkHash }] : [],
      meta: s.meta,
      tags: s.tags,
      digests: disclosures.map((d) => d.digest).sort(),
      author: s.author.participant,
      createdAt: new Date(BASE_TIME + i * 3_600_000 + 123).toISOString(),
    };
    const hash = linkHash(link);
    links.push({
      link,
      canonical: canonicalJson(link),
      linkHash: hash,
      signingMessage: `pop:link:v1:${hash}`,
      signatures: [s.author, ...s.cosigners].map((p) => signAs(p, hash)),
      disclosures,
    });
    prev = [hash];
  });

  // Blocks: links 0-2 in block 0, 3-4 in block 1, an empty block 2 (the one an anchor would name).
  const history = new MemoryHistory();
  const groups = [links.slice(0, 3), links.slice(3, 5), []];
  const blocks: { fields: HeaderFields; header: string; blockHash: string; notarySig: string; linkHashes: string[]; tree: LinkTree }[] = [];
  let prevHash = ZERO_HASH;
  groups.forEach((group, height) => {
    const tree = new LinkTree(group.map((l) => fromHex(l.linkHash)));
    const fields: HeaderFields = {
      version: 1,
      height,
      timestamp: BASE_TIME + 86_400_000 + height * 1000,
      prevHash,
      linksRoot: toHex(tree.root),
      leafCount: group.length,
      historyRoot: toHex(history.root()),
      difficulty: DIFFICULTY,
      nonce: 0,
    };
    const found = mineRange(encodeHeader(fields), 0, 2 ** 32);
    fields.nonce = found.nonce!;
    const header = encodeHeader(fields);
    const hash = toHex(blockHash(header));
    const notarySig = toHex(sign('ed25519', fromHex(NOTARY.secretKey), blockMessage(hash)));
    blocks.push({ fields, header: toHex(header), blockHash: hash, notarySig, linkHashes: group.map((l) => l.linkHash), tree });
    history.append(fromHex(hash));
    prevHash = hash;
  });

  const notary = { keyId: NOTARY.keyId, alg: NOTARY.alg, publicKey: NOTARY_PUBLIC };
  // Block 2 anchored in a regtest Bitcoin block built by scripts/bitcoin-regtest.ts (§11).
  const regtest = buildRegtestAnchor({
    blockHash: blocks[2]!.blockHash,
    secretKey: seed('key:bitcoin-wallet'),
    height: 150,
    time: Math.floor(blocks[2]!.fields.timestamp / 1000) + 600,
  });
  const proofOf = (index: number, opts: { historyTo?: number; disclose?: string[] } = {}): ProofV1 => {
    const l = links[index]!;
    const height = index < 3 ? 0 : 1;
    const leafIndex = index < 3 ? index : index - 3;
    const b = blocks[height]!;
    const signerNames = new Set(l.signatures.map((s) => s.signer));
    const proof: ProofV1 = {
      type: 'pop/proof/v1',
      link: l.link,
      linkHash: l.linkHash,
      signatures: l.signatures,
      keys: Object.values(PARTIES).filter((p) => signerNames.has(p.participant)).map(keyRecord),
      inclusion: { leafIndex, treeSize: b.fields.leafCount, path: b.tree.inclusionProof(leafIndex).map(toHex) },
      block: { header: b.header, notarySig: b.notarySig },
      notary,
    };
    if (opts.historyTo !== undefined) {
      const later = blocks[opts.historyTo]!;
      proof.history = {
        block: { header: later.header, notarySig: later.notarySig },
        path: history.inclusionProof(height, opts.historyTo).map(toHex),
      };
    }
    if (opts.disclose) proof.disclosures = l.disclosures.filter((d) => opts.disclose!.includes(d.field)).map((d) => d.disclosure);
    return proof;
  };

  const proofs: Record<string, ProofV1> = {
    'link0-history': proofOf(0, { historyTo: 2 }),
    'link2-cosigned': proofOf(2),
    'link4-disclosed': proofOf(4, { historyTo: 2, disclose: ['iban'] }),
    'link4-anchored': { ...proofOf(4, { historyTo: 2 }), anchor: regtest.evidence },
  };
  const good = proofs['link0-history']!;
  const tampered: Record<string, [ProofV1, string]> = {};
  const mutate = (name: string, code: string, f: (p: ProofV1) => void, base: ProofV1 = good) => {
    const copy = structuredClone(base);
    f(copy);
    tampered[name] = [copy, code];
  };
  const flip = (hex: string, at = 0) => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);
  mutate('meta-changed', 'LINK_HASH_MISMATCH', (p) => void (p.link.meta = { ...p.link.meta, total: 1299 }));
  mutate('signature-flipped', 'SIGNATURE_INVALID', (p) => void (p.signatures[0]!.sig = flip(p.signatures[0]!.sig, 10)));
  mutate('author-unsigned', 'SIGNATURE_MISSING', (p) => {
    p.signatures = [signAs(PARTIES.retailer, p.linkHash)];
    p.keys = [keyRecord(PARTIES.retailer)];
  });
  mutate('key-missing', 'KEY_UNKNOWN', (p) => void (p.keys = [keyRecord(PARTIES.retailer)]));
  mutate('inclusion-path', 'INCLUSION_INVALID', (p) => void (p.inclusion.path[0] = flip(p.inclusion.path[0]!)));
  mutate('inclusion-index', 'INCLUSION_INVALID', (p) => void (p.inclusion.leafIndex = 1));
  mutate('header-nonce', 'POW_INSUFFICIENT', (p) => {
    const h = fromHex(p.block.header);
    const fields = { ...decodeHeader(h), nonce: 0 };
    // the first nonce that fails the recorded difficulty: deterministic
    for (let n = 0; ; n++) {
      const candidate = encodeHeader({ ...fields, nonce: n });
      if (!hasPow(candidate, fields.difficulty)) {
        p.block.header = toHex(candidate);
        break;
      }
    }
  });
  mutate('notary-signature', 'NOTARY_SIGNATURE_INVALID', (p) => void (p.block.notarySig = flip(p.block.notarySig, 20)));
  mutate('history-path', 'HISTORY_INVALID', (p) => void (p.history!.path[0] = flip(p.history!.path[0]!)));
  mutate('disclosure-altered', 'DISCLOSURE_INVALID', (p) => {
    p.disclosures = [p.disclosures![0]!.replace('FR76', 'FR77')];
  }, proofs['link4-disclosed']);
  mutate('unknown-field', 'MALFORMED', (p) => void ((p as Record<string, unknown>)['extra'] = true));
  mutate('proof-v2', 'UNSUPPORTED_VERSION', (p) => void ((p as { type: string }).type = 'pop/proof/v2'));
  mutate('key-off-curve', 'KEY_INVALID', (p) => {
    // x = 7 is not the x coordinate of any P-256 point
    p.keys = p.keys.map((k) => (k.alg === 'ecdsa-p256' ? { ...k, publicKey: '02' + '00'.repeat(31) + '07' } : k));
  });
  mutate('genesis-history', 'HEADER_INVALID', (p) => {
    const fields = { ...decodeHeader(fromHex(p.block.header)), historyRoot: '11'.repeat(32) };
    const header = encodeHeader(fields);
    p.block = { header: toHex(header), notarySig: toHex(sign('ed25519', fromHex(NOTARY.secretKey), blockMessage(toHex(blockHash(header))))) };
  });
  mutate('other-notary', 'NOTARY_KEY_MISMATCH', (p) => {
    // A complete, self-consistent proof signed by another notary: only pinning tells it apart.
    const other = seed('key:other-notary');
    p.notary = { keyId: 'other-1', alg: 'ed25519', publicKey: toHex(publicKeyFor('ed25519', other)) };
    p.block.notarySig = toHex(sign('ed25519', other, blockMessage(toHex(blockHash(fromHex(p.block.header))))));
    p.history!.block.notarySig = toHex(sign('ed25519', other, blockMessage(toHex(blockHash(fromHex(p.history!.block.header))))));
  });

  const anchored = proofs['link4-anchored']!;
  mutate('anchor-sibling', 'ANCHOR_INVALID', (p) => void (p.anchor!.merkle.siblings[0] = flip(p.anchor!.merkle.siblings[0]!)), anchored);
  // Without its history the proof's latest block is block 1, but the anchor commits to block 2.
  mutate('anchor-unlinked', 'ANCHOR_INVALID', (p) => void delete p.history, anchored);
  mutate('anchor-header-work', 'ANCHOR_INVALID', (p) => {
    // the first nonce whose header misses the target, with bitcoinBlock.hash to match: no work
    const header = fromHex(p.anchor!.bitcoinBlock.header);
    const target = targetFromBits(parseBitcoinHeader(header).bits);
    for (let n = 0; ; n++) {
      new DataView(header.buffer).setUint32(76, n, true);
      if (hashToBigInt(sha256d(header)) > target) break;
    }
    p.anchor!.bitcoinBlock.header = toHex(header);
    p.anchor!.bitcoinBlock.hash = toHex(sha256d(header).reverse());
  }, anchored);

  // Verdicts: what a conforming verifier must answer for each golden proof.
  const verdicts: Record<string, string> = {};
  for (const [name, proof] of Object.entries(proofs)) {
    files.set(`proofs/${name}.json`, json(proof));
    verdicts[`proofs/${name}.json`] = verdictOf(proof);
  }
  for (const [name, [proof, expected]] of Object.entries(tampered)) {
    files.set(`proofs/bad-${name}.json`, json(proof));
    const got = verdictOf(proof);
    if (got !== expected) throw new Error(`golden bad-${name}: expected ${expected}, core says ${got}`);
    verdicts[`proofs/bad-${name}.json`] = got;
  }

  files.set('keys.json', json({
    note: 'Test keys derived from fixed seeds: secretKey = SHA-256("pop-golden:key:<participant>"). Never use them for anything real.',
    participants: Object.values(PARTIES),
    notary: { ...NOTARY, publicKey: NOTARY_PUBLIC },
  }));
  files.set('links.json', json(links.map((l) => ({
    link: l.link,
    canonical: l.canonical,
    linkHash: l.linkHash,
    signingMessage: l.signingMessage,
    signatures: l.signatures,
  }))));
  files.set('disclosures.json', json(links.flatMap((l) => l.disclosures.map((d) => ({ linkHash: l.linkHash, ...d })))));
  files.set('blocks.json', json(blocks.map((b) => ({
    fields: b.fields,
    header: b.header,
    blockHash: b.blockHash,
    signingMessage: `pop:block:v1:${b.blockHash}`,
    notarySig: b.notarySig,
    linkHashes: b.linkHashes,
  }))));
  const receiptAt = new Date(BASE_TIME + 5).toISOString();
  files.set('receipt.json', json({
    linkHash: links[0]!.linkHash,
    acceptedAt: receiptAt,
    message: `pop:receipt:v1:${links[0]!.linkHash}:${receiptAt}`,
    notarySig: toHex(sign('ed25519', fromHex(NOTARY.secretKey), receiptMessage(links[0]!.linkHash, receiptAt))),
  }));
  files.set('merkle.json', json(merkleExamples()));
  files.set('history.json', json({
    note: 'The history tree of the golden chain: leaf i = blockHash(i). Ancestry and consistency proofs between its sizes.',
    blockHashes: blocks.map((b) => b.blockHash),
    roots: [0, 1, 2, 3].map((n) => toHex(rootOfLeafHashes(blocks.slice(0, n).map((b) => leafHash(fromHex(b.blockHash)))))),
    inclusion: [[0, 2], [1, 2], [0, 3], [2, 3]].map(([index, size]) => ({ index, size, path: history.inclusionProof(index!, size).map(toHex) })),
    consistency: [[1, 2], [1, 3], [2, 3]].map(([size1, size2]) => ({ size1, size2, proof: history.consistencyProof(size1!, size2).map(toHex) })),
  }));
  files.set('anchor.json', json(anchorSteps(regtest.evidence)));
  files.set('verdicts.json', json(verdicts));

  for (const [name, text] of goldenBundles({ links, blocks, history, notary, anchor: regtest.evidence })) files.set(name, text);
  return files;
}

function verdictOf(proof: unknown): string {
  try {
    return verifyProof(proof, { verifier: nobleVerifier, notaryKeys: [NOTARY_PUBLIC] }).status;
  } catch (e) {
    if (e instanceof VerificationError) return e.code;
    throw e;
  }
}

/** Trees of 1..7 leaves whose data are the bytes 0x00, 0x01, …: roots and every audit path. */
function merkleExamples() {
  return [1, 2, 3, 4, 5, 6, 7].map((size) => {
    const data = Array.from({ length: size }, (_, i) => sha256(new Uint8Array([i])));
    const tree = new LinkTree(data);
    return {
      size,
      leafData: data.map(toHex),
      root: toHex(tree.root),
      proofs: data.map((_, i) => tree.inclusionProof(i).map(toHex)),
    };
  });
}

/** The golden anchor's intermediate values, in the order §11 checks them (Bitcoin hashes in internal order). */
function anchorSteps(e: AnchorEvidence) {
  const tx = parseTransaction(fromHex(e.tx));
  const header = parseBitcoinHeader(fromHex(e.bitcoinBlock.header));
  const opReturn = tx.outputs.find((o) => o.script[0] === 0x6a)!;
  let h = tx.txid;
  let pos = e.merkle.pos;
  const fold = e.merkle.siblings.map((display) => {
    const sibling = fromHex(display).reverse();
    const odd = pos % 2 === 1;
    h = sha256d(odd ? concatBytes(sibling, h) : concatBytes(h, sibling));
    pos = Math.floor(pos / 2);
    return { sibling: toHex(sibling), order: odd ? 'sibling ‖ h' : 'h ‖ sibling', h: toHex(h) };
  });
  return {
    note: 'The golden anchor (proofs/link4-anchored.json) step by step. Bitcoin hashes here are in internal order; the evidence writes txid, block hash and siblings reversed (display order).',
    evidence: e,
    opReturnScript: toHex(opReturn.script),
    payload: toHex(anchorPayload(e.blockHash)),
    segwit: tx.segwit,
    nonWitnessTx: toHex(tx.stripped),
    txidInternal: toHex(tx.txid),
    fold,
    header: {
      version: header.version,
      prevHash: toHex(header.prevHash),
      merkleRoot: toHex(header.merkleRoot),
      time: header.time,
      bits: header.bits.toString(16).padStart(8, '0'),
      nonce: header.nonce,
    },
    headerHashInternal: toHex(header.hash),
    target: targetFromBits(header.bits).toString(16).padStart(64, '0'),
    result: verifyAnchor(e, e.blockHash),
  };
}

const hasPow = (header: Uint8Array, difficulty: number) => hasProofOfWork(blockHash(header), difficulty);

// --- bundles (docs/protocol.md §10) ---

/** The process the golden links follow: order-to-cash v1, five roles, one linear path. */
export const GOLDEN_PROCESS: ProcessDefinition = {
  id: 'order-to-cash',
  title: 'Order to cash',
  description: 'The golden chain: a customer orders, the retailer confirms, the manufacturer produces (the retailer countersigns), the delivery service ships, the bank settles (the customer authorizes).',
  roles: ['customer', 'retailer', 'manufacturer', 'delivery', 'bank'],
  forks: false,
  steps: {
    order: {
      authors: ['customer'],
      signers: [],
      after: [],
      meta: {
        type: 'object',
        additionalProperties: false,
        required: ['currency', 'total', 'lines'],
        properties: {
          currency: { type: 'string', pattern: '^[A-Z]{3}$' },
          total: { type: 'number', exclusiveMinimum: 0 },
          lines: { type: 'integer', minimum: 1, maximum: 1000 },
        },
      },
      private: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'address'],
        properties: { name: { type: 'string', maxLength: 200 }, address: { type: 'string', maxLength: 500 } },
      },
    },
    confirm: {
      authors: ['retailer'],
      signers: [],
      after: ['order'],
      meta: {
        type: 'object',
        additionalProperties: false,
        required: ['promisedBy'],
        properties: { promisedBy: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' } },
      },
    },
    produce: {
      authors: ['manufacturer'],
      signers: ['retailer'],
      after: ['confirm'],
      meta: {
        type: 'object',
        additionalProperties: false,
        required: ['batch', 'units'],
        properties: { batch: { type: 'string', maxLength: 64 }, units: { type: 'integer', minimum: 1 } },
      },
      private: { type: 'object', additionalProperties: false, properties: { cost: { type: 'number', minimum: 0 } } },
    },
    ship: {
      authors: ['delivery'],
      signers: [],
      after: ['produce'],
      meta: {
        type: 'object',
        additionalProperties: false,
        required: ['carrier', 'parcels'],
        properties: { carrier: { type: 'string', maxLength: 100 }, parcels: { type: 'integer', minimum: 1 } },
      },
      private: { type: 'object', additionalProperties: false, properties: { trackingUrl: { type: 'string', maxLength: 2000 } } },
    },
    pay: {
      authors: ['bank'],
      signers: ['customer'],
      after: ['ship'],
      final: true,
      meta: {
        type: 'object',
        additionalProperties: false,
        required: ['amount', 'currency'],
        properties: { amount: { type: 'number', exclusiveMinimum: 0 }, currency: { type: 'string', pattern: '^[A-Z]{3}$' } },
      },
      private: { type: 'object', additionalProperties: false, properties: { iban: { type: 'string', pattern: '^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$' } } },
    },
  },
};

interface GoldenChain {
  links: { link: Link; linkHash: string; signatures: { signer: string; keyId: string; alg: Alg; sig: string }[]; disclosures: { field: string; disclosure: string }[] }[];
  blocks: { header: string; notarySig: string; blockHash: string; linkHashes: string[]; tree: LinkTree }[];
  history: MemoryHistory;
  notary: { keyId: string; alg: 'ed25519'; publicKey: string };
  anchor: AnchorEvidence;
}

interface BundleOptions {
  /** Indices of golden links, in bundle order (default all five). */
  indices?: number[];
  scope?: BundleV1['scope'];
  /** Fields to disclose, per link index. */
  disclose?: Record<number, string[]>;
  definition?: ProcessDefinition;
  roles?: Record<string, string[]>;
}

/** The golden bundles: the map order-42, a time-range bundle, and tampered ones with their verdicts. */
function goldenBundles(chain: GoldenChain): Map<string, string> {
  const files = new Map<string, string>();
  const createdAt = new Date(BASE_TIME + 2 * 86_400_000).toISOString();
  const heightOf = (hash: string) => chain.blocks.findIndex((b) => b.linkHashes.includes(hash));
  const anchoredHeight = chain.blocks.findIndex((b) => b.blockHash === chain.anchor.blockHash);

  const bundleOf = (o: BundleOptions = {}): BundleV1 => {
    const indices = o.indices ?? [0, 1, 2, 3, 4];
    const scope = o.scope ?? { process: 'order-to-cash', mapId: 'order-42' };
    const definition = o.definition ?? GOLDEN_PROCESS;
    const links = indices.map((i) => {
      const l = chain.links[i]!;
      const height = heightOf(l.linkHash);
      const block = chain.blocks[height]!;
      const leafIndex = block.linkHashes.indexOf(l.linkHash);
      const disclose = o.disclose?.[i];
      return {
        linkHash: l.linkHash,
        link: l.link,
        signatures: l.signatures,
        height,
        inclusion: { leafIndex, treeSize: block.linkHashes.length, path: block.tree.inclusionProof(leafIndex).map(toHex) },
        ...(disclose ? { disclosures: l.disclosures.filter((d) => disclose.includes(d.field)).map((d) => d.disclosure) } : {}),
      };
    });
    const signers = [...new Set(links.flatMap((l) => l.signatures.map((s) => s.signer)))].sort();
    const participants = signers.map((id) => {
      const p = Object.values(PARTIES).find((q) => q.participant === id)!;
      return { id, roles: o.roles?.[id] ?? [id], keys: [{ keyId: p.keyId, alg: p.alg, publicKey: p.publicKey }] };
    });
    const heights = [...new Set(links.map((l) => l.height))].sort((a, b) => a - b);
    const history = heights.filter((h) => h < anchoredHeight).map((h) => ({
      height: h,
      to: anchoredHeight,
      path: chain.history.inclusionProof(h, anchoredHeight).map(toHex),
    }));
    const blockHeights = [...new Set([...heights, ...history.map((h) => h.to)])].sort((a, b) => a - b);
    const digest = bundleDigest(scope, createdAt, links.map((l) => l.linkHash));
    return {
      type: 'pop/bundle/v1',
      scope,
      createdAt,
      notary: chain.notary,
      links,
      processes: [{ id: definition.id, version: 1, hash: sha256Hex(canonicalJson(definition)), definition }],
      participants,
      blocks: blockHeights.map((h) => ({ header: chain.blocks[h]!.header, notarySig: chain.blocks[h]!.notarySig })),
      history,
      anchors: heights.some((h) => h <= anchoredHeight) ? [chain.anchor] : [],
      manifest: {
        count: links.length,
        digest,
        notarySig: toHex(sign('ed25519', fromHex(NOTARY.secretKey), bundleManifestMessage(digest))),
      },
    };
  };
  /** Re-signs the manifest after the links were changed: what a dishonest notary could do. */
  const resign = (b: BundleV1, secret = fromHex(NOTARY.secretKey)) => {
    b.manifest.count = b.links.length;
    b.manifest.digest = bundleDigest(b.scope, b.createdAt, b.links.map((l) => l.linkHash));
    b.manifest.notarySig = toHex(sign('ed25519', secret, bundleManifestMessage(b.manifest.digest)));
  };

  const good: Record<string, BundleV1> = {
    'order-42': bundleOf({ disclose: { 2: ['cost'], 4: ['iban'] } }),
    // Links accepted in a time range: the range starts mid-map, so link 3's prev is not in the bundle.
    'order-to-cash-range': bundleOf({ indices: [3, 4], scope: { process: 'order-to-cash', from: '2026-11-02T12:00:00Z', to: '2026-11-02T14:00:00Z' } }),
  };
  const base = good['order-42']!;
  const flip = (hex: string, at = 0) => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);
  const withProcess = (change: (d: ProcessDefinition) => void): BundleV1 => {
    const definition = structuredClone(GOLDEN_PROCESS);
    change(definition);
    return bundleOf({ definition });
  };
  const bad: Record<string, [BundleV1, string]> = {};
  const mutate = (name: string, code: string, f: (b: BundleV1) => void, from: BundleV1 = base) => {
    const copy = structuredClone(from);
    f(copy);
    bad[name] = [copy, code];
  };
  mutate('link-swapped', 'MANIFEST_INVALID', (b) => void ([b.links[0], b.links[1]] = [b.links[1]!, b.links[0]!]));
  mutate('link-dropped', 'MANIFEST_INVALID', (b) => void b.links.splice(3, 1));
  mutate('link-duplicated', 'MANIFEST_INVALID', (b) => void b.links.push(structuredClone(b.links[4]!)));
  // A notary that drops a link from the middle of a map and signs the rest: the next link's prev is missing.
  bad['dropped-resigned'] = [bundleOf({ indices: [0, 1, 2, 4] }), 'MANIFEST_INVALID'];
  // ... or signs the links out of their (height, leafIndex) order.
  mutate('reordered-resigned', 'MALFORMED', (b) => {
    [b.links[3], b.links[4]] = [b.links[4]!, b.links[3]!];
    resign(b);
  });
  mutate('out-of-scope', 'MANIFEST_INVALID', (b) => {
    b.scope = { process: 'order-to-cash', mapId: 'order-43' };
    resign(b);
  });
  mutate('manifest-digest', 'MANIFEST_INVALID', (b) => void (b.manifest.digest = flip(b.manifest.digest)));
  mutate('manifest-signature', 'NOTARY_SIGNATURE_INVALID', (b) => void (b.manifest.notarySig = flip(b.manifest.notarySig, 10)));
  mutate('meta-changed', 'LINK_HASH_MISMATCH', (b) => void (b.links[1]!.link.meta = { promisedBy: '2026-11-19' }));
  mutate('signature-flipped', 'SIGNATURE_INVALID', (b) => void (b.links[2]!.signatures[1]!.sig = flip(b.links[2]!.signatures[1]!.sig, 10)));
  mutate('key-unknown', 'KEY_UNKNOWN', (b) => void (b.participants = b.participants.filter((p) => p.id !== 'retailer')));
  mutate('inclusion-path', 'INCLUSION_INVALID', (b) => void (b.links[1]!.inclusion.path[0] = flip(b.links[1]!.inclusion.path[0]!)));
  mutate('disclosure-altered', 'DISCLOSURE_INVALID', (b) => void (b.links[4]!.disclosures = [b.links[4]!.disclosures![0]!.replace('FR76', 'FR77')]));
  mutate('history-path', 'HISTORY_INVALID', (b) => void (b.history[0]!.path[0] = flip(b.history[0]!.path[0]!)));
  mutate('anchor-sibling', 'ANCHOR_INVALID', (b) => void (b.anchors[0]!.merkle.siblings[0] = flip(b.anchors[0]!.merkle.siblings[0]!)));
  mutate('process-hash', 'PROCESS_INVALID', (b) => void (b.processes[0]!.hash = flip(b.processes[0]!.hash)));
  bad['rule-meta'] = [withProcess((d) => void ((d.steps['order']!.meta as { properties: { total: object } }).properties.total = { type: 'number', maximum: 100 })), 'RULE_VIOLATION'];
  bad['rule-signer-role'] = [withProcess((d) => void (d.steps['ship']!.signers = ['retailer'])), 'RULE_VIOLATION'];
  bad['rule-transition'] = [withProcess((d) => void (d.steps['pay']!.after = ['produce'])), 'RULE_VIOLATION'];
  bad['rule-author-role'] = [bundleOf({ roles: { bank: ['customer'] } }), 'RULE_VIOLATION'];
  mutate('other-notary', 'NOTARY_KEY_MISMATCH', (b) => {
    // Self-consistent, signed by another notary: only pinning tells it apart.
    const other = seed('key:other-notary');
    b.notary = { keyId: 'other-1', alg: 'ed25519', publicKey: toHex(publicKeyFor('ed25519', other)) };
    for (const block of b.blocks) block.notarySig = toHex(sign('ed25519', other, blockMessage(toHex(blockHash(fromHex(block.header))))));
    resign(b, other);
  });
  mutate('unknown-field', 'MALFORMED', (b) => void ((b.participants[0] as Record<string, unknown>)['email'] = 'x@example.com'));
  mutate('bundle-v2', 'UNSUPPORTED_VERSION', (b) => void ((b as { type: string }).type = 'pop/bundle/v2'));

  const verdicts: Record<string, string> = {};
  for (const [name, bundle] of Object.entries(good)) {
    files.set(`bundles/${name}.json`, json(bundle));
    verdicts[`bundles/${name}.json`] = bundleVerdictOf(bundle);
  }
  for (const [name, [bundle, expected]] of Object.entries(bad)) {
    files.set(`bundles/bad-${name}.json`, json(bundle));
    const got = bundleVerdictOf(bundle);
    if (got !== expected) throw new Error(`golden bundle bad-${name}: expected ${expected}, core says ${got}`);
    verdicts[`bundles/bad-${name}.json`] = got;
  }
  files.set('bundle-verdicts.json', json(verdicts));
  const digestInput = `pop:bundle:v1\n${canonicalJson(base.scope)}\n${base.createdAt}\n${base.links.map((l) => `${l.linkHash}\n`).join('')}`;
  files.set('bundle-manifest.json', json({
    note: 'The manifest of bundles/order-42.json: digest = SHA-256(UTF-8(digestInput)); the notary signs the ASCII bytes of message.',
    digestInput,
    digest: sha256Hex(digestInput),
    message: `pop:bundle:v1:${sha256Hex(digestInput)}`,
    manifest: base.manifest,
  }));
  return files;
}

function bundleVerdictOf(bundle: unknown): string {
  return bundleVerdict(verifyBundle(bundle, { verifier: nobleVerifier, notaryKeys: [NOTARY_PUBLIC] }));
}
