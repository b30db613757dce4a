// Builds complete, valid pop/bundle/v1 files from links and keys, with no service and no database:
// seals the links into mined, notary-signed blocks, adds history proofs to the last block and a
// regtest anchor of it, and signs the manifest. For tests (custom maps: forks, restarts, rule
// breaks) and for scripts/make-bundle.ts (large bundles for the verification benchmark).
import {
  type Alg,
  type BundleV1,
  type Link,
  type ProcessDefinition,
  LinkTree,
  MemoryHistory,
  ZERO_HASH,
  blockHash,
  blockMessage,
  bundleDigest,
  bundleManifestMessage,
  canonicalJson,
  encodeHeader,
  fromHex,
  linkHash,
  linkMessage,
  mineRange,
  sha256,
  sha256Hex,
  sign,
  toHex,
  utf8,
  type HeaderFields,
} from '../src/core/index.js';
import { buildRegtestAnchor } from './bitcoin-regtest.js';

export interface Signer {
  participant: string;
  keyId: string;
  alg: Alg;
  secretKey: Uint8Array;
  publicKey: string;
}

export interface BuildLink {
  link: Link;
  /** Who signs, the author first. */
  signers: Signer[];
  disclosures?: string[];
}

export interface BuildOptions {
  scope: BundleV1['scope'];
  createdAt: string;
  notary: { keyId: string; secretKey: Uint8Array; publicKey: string };
  processes: { version: number; definition: ProcessDefinition }[];
  /** Roles per participant id (default: the participant id as its one role). */
  roles?: Record<string, string[]>;
  /** Links per block (default 500). */
  blockSize?: number;
  /** Leading zero bits of each block hash (default 8). */
  difficulty?: number;
  /** First block's timestamp, ms (default 2026-11-02T09:00:00Z); each block one second later. */
  baseTime?: number;
  /** Anchor an extra, empty block after the links in a regtest Bitcoin block, with history from every block to it (default true). */
  anchor?: boolean;
  /** Signs a message (default core's noble signer; a faster one can be passed). */
  sign?: (alg: Alg, secretKey: Uint8Array, message: Uint8Array) => Uint8Array;
}

export function buildBundle(input: readonly BuildLink[], o: BuildOptions): BundleV1 {
  const signWith = o.sign ?? sign;
  const blockSize = o.blockSize ?? 500;
  const difficulty = o.difficulty ?? 8;
  const baseTime = o.baseTime ?? Date.UTC(2026, 10, 2, 9, 0, 0);
  const anchor = o.anchor ?? true;

  const hashes = input.map((l) => linkHash(l.link));
  const groups: number[][] = [];
  for (let i = 0; i < input.length; i += blockSize) groups.push(input.slice(i, i + blockSize).map((_, j) => i + j));
  if (anchor) groups.push([]);

  const history = new MemoryHistory();
  const blocks: { header: string; notarySig: string; hash: string; tree: LinkTree; size: number }[] = [];
  let prevHash = ZERO_HASH;
  groups.forEach((group, height) => {
    const tree = new LinkTree(group.map((i) => fromHex(hashes[i]!)));
    const fields: HeaderFields = {
      version: 1,
      height,
      timestamp: baseTime + height * 1000,
      prevHash,
      linksRoot: toHex(tree.root),
      leafCount: group.length,
      historyRoot: toHex(history.root()),
      difficulty,
      nonce: 0,
    };
    fields.nonce = mineRange(encodeHeader(fields), 0, 2 ** 32).nonce!;
    const header = encodeHeader(fields);
    const hash = toHex(blockHash(header));
    blocks.push({ header: toHex(header), notarySig: toHex(signWith('ed25519', o.notary.secretKey, blockMessage(hash))), hash, tree, size: group.length });
    history.append(fromHex(hash));
    prevHash = hash;
  });

  const links = input.map((l, i) => {
    const height = Math.floor(i / blockSize);
    const leafIndex = i % blockSize;
    const block = blocks[height]!;
    return {
      linkHash: hashes[i]!,
      link: l.link,
      signatures: l.signers.map((s) => ({
        signer: s.participant,
        keyId: s.keyId,
        alg: s.alg,
        sig: toHex(signWith(s.alg, s.secretKey, linkMessage(hashes[i]!))),
      })),
      height,
      inclusion: { leafIndex, treeSize: block.size, path: block.tree.inclusionProof(leafIndex).map(toHex) },
      ...(l.disclosures ? { disclosures: l.disclosures } : {}),
    };
  });

  const signers = new Map<string, Map<string, Signer>>();
  for (const l of input) for (const s of l.signers) (signers.get(s.participant) ?? signers.set(s.participant, new Map()).get(s.participant)!).set(s.keyId, s);
  const participants = [...signers.keys()].sort().map((id) => ({
    id,
    roles: o.roles?.[id] ?? [id],
    keys: [...signers.get(id)!.values()].map((s) => ({ keyId: s.keyId, alg: s.alg, publicKey: s.publicKey })),
  }));

  const last = blocks.length - 1;
  const linkHeights = [...new Set(links.map((l) => l.height))];
  const bundle: BundleV1 = {
    type: 'pop/bundle/v1',
    scope: o.scope,
    createdAt: o.createdAt,
    notary: { keyId: o.notary.keyId, alg: 'ed25519', publicKey: o.notary.publicKey },
    links,
    processes: o.processes.map((p) => ({ id: p.definition.id, version: p.version, hash: sha256Hex(canonicalJson(p.definition)), definition: p.definition })),
    participants,
    blocks: blocks.map((b) => ({ header: b.header, notarySig: b.notarySig })),
    history: anchor ? linkHeights.map((h) => ({ height: h, to: last, path: history.inclusionProof(h, last).map(toHex) })) : [],
    anchors: anchor
      ? [buildRegtestAnchor({ blockHash: blocks[last]!.hash, secretKey: sha256(utf8('pop-bundle-builder:wallet')), height: 200, time: Math.floor((baseTime + last * 1000) / 1000) + 600 }).evidence]
      : [],
    manifest: { count: 0, digest: '', notarySig: '' },
  };
  return signManifest(bundle, o.notary.secretKey, signWith);
}

/** (Re)computes and signs the manifest over the bundle's scope, createdAt and links as they are. */
export function signManifest(bundle: BundleV1, notarySecret: Uint8Array, signWith: BuildOptions['sign'] = sign): BundleV1 {
  const digest = bundleDigest(bundle.scope, bundle.createdAt, bundle.links.map((l) => l.linkHash));
  bundle.manifest = { count: bundle.links.length, digest, notarySig: toHex(signWith!('ed25519', notarySecret, bundleManifestMessage(digest))) };
  return bundle;
}
