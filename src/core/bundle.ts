// Offline verification of a pop/bundle/v1 (docs/protocol.md §10): many links of one process (a map,
// the whole process, or a time range) sharing their blocks, history proofs and anchors, with the
// process versions they were validated against, the signers' roles and keys, and a manifest the
// notary signs over the scope, the creation time and the ordered link hashes.
//
// Design: verifyBundle never throws a VerificationError; it returns a result with `ok` and
// `failures`. The shared parts (shape, notary, manifest, order, blocks, processes, participants,
// history, anchors) are checked first, in the documented order, and the first failure there ends
// verification (one failure, no per-link results: nothing can be said about links whose blocks or
// process are not what they claim). Then every link is checked on its own, and each link's first
// failure is collected, so a report can show which links hold and which do not. The bundle's
// verdict is the code of its first failure (failures[0]), or "verified".
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import type { ValidateFunction } from 'ajv';
import type { BundleV1, ProcessDefinition } from '../generated/schemas.js';
import { type AnchorResult, verifyAnchor } from './anchor.js';
import { parseBitcoinHeader } from './bitcoin.js';
import { concatBytes, equalBytes, fromHex, toHex, utf8 } from './bytes.js';
import { type VerificationCode, VerificationError, fail } from './errors.js';
import { sha256Hex } from './hash.js';
import { type Json, canonicalJson } from './jcs.js';
import { isRfc3339Utc } from './link.js';
import { type CheckedHeader, type NotaryPin, checkSignedHeader, disclosedFields } from './proof-parts.js';
import { checkHistory } from './proof.js';
import { inclusionRanges } from './history.js';
import { leafHash, nodeHash } from './rfc6962.js';
import { SCHEMA_IDS, assertSchema, describeErrors } from './schema.js';
import { MAX_DEFINITION_CHARS, compileStepSchema, schemaBoundsViolation } from './schema-bounds.js';
import { type Alg, type SignatureVerifier, isAlg, linkMessage, publicKeyValid } from './signature.js';

export type BundleScope = BundleV1['scope'];
export type BundleLink = BundleV1['links'][number];

export const BUNDLE_TYPE = 'pop/bundle/v1';

// --- the manifest ---

/**
 * manifest.digest: SHA-256 of the UTF-8 bytes "pop:bundle:v1\n" ‖ JCS(scope) ‖ "\n" ‖ createdAt ‖
 * "\n" ‖ (linkHash ‖ "\n") for each link in bundle order. Lowercase hex.
 */
export function bundleDigest(scope: BundleScope, createdAt: string, linkHashes: Iterable<string>): string {
  const h = nobleSha256.create();
  h.update(utf8(`pop:bundle:v1\n${canonicalJson(scope)}\n${createdAt}\n`));
  let chunk = '';
  for (const linkHash of linkHashes) {
    chunk += `${linkHash}\n`;
    if (chunk.length >= 65_000) {
      h.update(utf8(chunk));
      chunk = '';
    }
  }
  if (chunk) h.update(utf8(chunk));
  return toHex(h.digest());
}

/** The bytes the notary signs for a bundle: ASCII `pop:bundle:v1:<digest hex>`. */
export function bundleManifestMessage(digestHex: string): Uint8Array {
  return utf8(`pop:bundle:v1:${digestHex}`);
}

// --- RFC 3339 instants without a clock or Date (core stays pure) ---

/** Compares two timestamps that passed isRfc3339Utc: negative, zero or positive. */
export function compareInstants(a: string, b: string): number {
  const key = (t: string) => t.slice(0, 19) + (t[19] === '.' ? t.slice(20, -1) : '').padEnd(9, '0');
  const ka = key(a);
  const kb = key(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

// --- results ---

export interface BundleVerifyOptions {
  verifier: SignatureVerifier;
  /** Notary public keys (hex) the verifier trusts; without them the bundle's own key is used and reported. */
  notaryKeys?: readonly string[];
  /** Refuse blocks whose header demands fewer leading zero bits than this (default 0: the header's own). */
  minDifficulty?: number;
  /** Called as links are checked (every 1,000 links and at the end). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Verdicts on link signatures reached elsewhere (worker threads, web workers), by position: the
   * verdict for signature `signature` of `links[link]`. One is used only if it names exactly the
   * signature being checked (alg, the key's publicKey, the link's hash, sig); otherwise, or when
   * there is none, `verifier` checks the signature.
   */
  knownSignature?: (link: number, signature: number) => KnownSignature | undefined;
  /**
   * SHA-256 for the link hashes and the links trees, if the runtime has a faster one than the
   * portable default (node:crypto hashes a link about three times as fast as @noble/hashes).
   */
  sha256?: (data: Uint8Array) => Uint8Array;
}

export interface BundleFailure {
  code: VerificationCode;
  message: string;
  /** For a link's failure: the link's stated hash and its position in `links`. */
  linkHash?: string;
  index?: number;
}

export interface AnchoredAt {
  /** The block the anchor commits to: the link's own block, or a later one its block is tied to by history. */
  block: number;
  network: AnchorResult['network'];
  txid: string;
  bitcoinBlockHash: string;
  /** As stated by the evidence (a Bitcoin header does not carry its height). */
  bitcoinHeight: number;
  /** The Bitcoin header's time field: seconds since 1970-01-01T00:00:00Z. */
  bitcoinTime: number;
}

export interface BundleLinkResult {
  index: number;
  linkHash: string;
  step: string;
  author: string;
  signers: string[];
  height: number;
  leafIndex: number;
  createdAt: string;
  ok: boolean;
  failure?: { code: VerificationCode; message: string };
  /** Set when the link verified and its block is anchored (itself or through a verified history entry). */
  anchoredAt?: AnchoredAt;
}

export interface BundleResult {
  /** True when every check held, for the shared parts and every link. */
  ok: boolean;
  status: 'verified' | 'failed';
  /** True when the shared parts held (shape, notary, manifest, blocks, processes, history, anchors), so the links were checked. */
  sharedOk: boolean;
  type: string | null;
  scope?: BundleScope;
  createdAt?: string;
  notary?: NotaryPin;
  /** Links in the bundle. */
  links: number;
  /** Links that passed every check. */
  verified: number;
  /** Verified links whose block is anchored. */
  anchored: number;
  /** Per map (by mapId), its links in bundle order. Empty when a shared part failed. */
  maps: Record<string, BundleLinkResult[]>;
  processes: { id: string; version: number; hash: string }[];
  blocks: { height: number; hash: string; timestamp: number; difficulty: number }[];
  anchors: (AnchorResult & { height: number; bitcoinTime: number })[];
  /** Disclosed private fields of verified links. */
  disclosed: { linkHash: string; field: string; value: Json }[];
  /** Empty when ok; otherwise the shared part's failure, or each failing link's first failure, in bundle order. */
  failures: BundleFailure[];
}

/** The verdict of a bundle: "verified" or the code of its first failure (what golden files record). */
export function bundleVerdict(result: BundleResult): 'verified' | VerificationCode {
  return result.failures[0]?.code ?? 'verified';
}

// --- process versions: checked, then their step schemas compiled once per definition hash ---

interface CompiledStep {
  definition: ProcessDefinition['steps'][string];
  meta: ValidateFunction | undefined;
}
interface CompiledProcess {
  definition: ProcessDefinition;
  steps: Map<string, CompiledStep>;
}

const compiledProcesses = new Map<string, CompiledProcess>();
const COMPILED_LIMIT = 256;

/** Consistency a schema cannot express (as the service checks at registration), then compilation. */
function compileProcess(label: string, hash: string, def: ProcessDefinition): CompiledProcess {
  const cached = compiledProcesses.get(hash);
  if (cached) return cached;
  const bad = (message: string): never => fail('PROCESS_INVALID', `${label}: ${message}`);
  const roles = new Set(def.roles);
  const stepNames = new Set(Object.keys(def.steps));
  const steps = new Map<string, CompiledStep>();
  for (const [name, step] of Object.entries(def.steps)) {
    for (const role of [...step.authors, ...step.signers]) if (!roles.has(role)) bad(`step ${name}: role ${role} is not among the process roles`);
    for (const before of step.after) {
      if (!stepNames.has(before)) bad(`step ${name} follows unknown step ${before}`);
      if (def.steps[before]!.final === true) bad(`step ${name} follows ${before}, which is final`);
    }
    let meta: ValidateFunction | undefined;
    if (step.meta !== undefined) {
      // A hostile bundle must not stall the verifier: the bounds the service applies at registration.
      const violation = schemaBoundsViolation(step.meta);
      if (violation !== undefined) bad(`step ${name}: the meta schema ${violation}`);
      try {
        meta = compileStepSchema(step.meta);
      } catch (e) {
        bad(`step ${name}: the meta schema does not compile: ${(e as Error).message}`);
      }
    }
    steps.set(name, { definition: step, meta });
  }
  if (![...steps.values()].some((s) => s.definition.after.length === 0)) bad('no step starts a map (a step with "after": [])');
  const compiled = { definition: def, steps };
  if (compiledProcesses.size >= COMPILED_LIMIT) compiledProcesses.delete(compiledProcesses.keys().next().value!);
  compiledProcesses.set(hash, compiled);
  return compiled;
}

// --- helpers ---

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;

/** Lowercase hex to bytes, fast (a bundle decodes hundreds of thousands of hashes); the schema checked the spelling. */
function hexBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) throw new TypeError('expected lowercase hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = HEX_VALUE[hex.charCodeAt(2 * i) & 0xff]!;
    const lo = HEX_VALUE[hex.charCodeAt(2 * i + 1) & 0xff]!;
    if (hi < 0 || lo < 0 || hex.charCodeAt(2 * i) > 0xff || hex.charCodeAt(2 * i + 1) > 0xff) throw new TypeError('expected lowercase hex');
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/**
 * One block's RFC 6962 tree of links, verified incrementally. RFC 6962's PATH(m, D[n]) lists
 * sibling subtrees whose leaf ranges are fixed by m and n, so every hash in an audit path, and every
 * node folded from it, is the MTH of a known range. Once a path has led to linksRoot, its nodes and
 * siblings are proven; a later path must agree with every proven node it meets (sibling or folded),
 * and where both children are proven their parent is taken as proven instead of hashed again. The
 * verdicts are those of RFC 9162 §2.1.3.2 (a path that fails there fails here), at a fraction of
 * the hashing when a bundle holds many links of one block.
 */
export class ProvenTree {
  readonly #size: number;
  readonly #proven = new Map<number | string, Uint8Array>();
  readonly #node: (left: Uint8Array, right: Uint8Array) => Uint8Array;

  constructor(size: number, root: Uint8Array, sha256?: (data: Uint8Array) => Uint8Array) {
    this.#size = size;
    this.#proven.set(this.#key(0, size), root);
    this.#node = sha256 ? (l, r) => sha256(concatBytes(NODE, l, r)) : nodeHash;
  }

  /** The key of the range [start, end): one number while that is exact, else a string. */
  #key(start: number, end: number): number | string {
    return this.#size < 0x4000000 ? start * 0x4000001 + end : `${start}:${end}`;
  }

  /** Throws INCLUSION_INVALID unless `path` is the audit path of `leaf` at `leafIndex`. */
  verify(leafIndex: number, leaf: Uint8Array, path: readonly string[], where = 'inclusion'): void {
    if (!Number.isSafeInteger(leafIndex) || leafIndex < 0 || leafIndex >= this.#size) {
      fail('INCLUSION_INVALID', `${where}: leaf index ${leafIndex} is beyond tree size ${this.#size}`);
    }
    const ranges = inclusionRanges(leafIndex, this.#size);
    if (path.length !== ranges.length) fail('INCLUSION_INVALID', `${where}: proof has ${path.length} hashes, expected ${ranges.length}`);
    const learned: [number | string, Uint8Array][] = [];
    /** Whether the node was proven already; a proven node must be equal. */
    const meet = (key: number | string, hash: Uint8Array): boolean => {
      const known = this.#proven.get(key);
      if (!known) {
        learned.push([key, hash]);
        return false;
      }
      if (!equalBytes(known, hash)) fail('INCLUSION_INVALID', `${where}: inclusion proof does not lead to the root`);
      return true;
    };
    let start = leafIndex;
    let end = leafIndex + 1;
    let hash = leaf;
    let known = meet(this.#key(start, end), hash);
    for (let i = 0; i < ranges.length; i++) {
      const range = ranges[i]!;
      const sibling = hexBytes(path[i]!);
      const siblingKnown = meet(this.#key(range.start, range.end), sibling);
      const left = range.start < start;
      if (left) start = range.start;
      else end = range.end;
      const parent = known && siblingKnown ? this.#proven.get(this.#key(start, end)) : undefined;
      hash = parent ?? (left ? this.#node(sibling, hash) : this.#node(hash, sibling));
      known = meet(this.#key(start, end), hash);
    }
    // The ranges end at [0, size): the last node met was the root.
    for (const [key, node] of learned) this.#proven.set(key, node);
  }
}

interface BundleKey {
  alg: Alg;
  publicKey: string;
  bytes: Uint8Array;
  valid?: boolean;
}

// Whether a public key is valid is a pure function of its bytes, and decoding a point is the most
// expensive check after signatures: remember the answers (bounded).
const keyValidity = new Map<string, boolean>();
function keyValid(alg: Alg, publicKeyHex: string): boolean {
  const id = `${alg}:${publicKeyHex}`;
  let valid = keyValidity.get(id);
  if (valid === undefined) {
    valid = publicKeyValid(alg, hexBytes(publicKeyHex));
    if (keyValidity.size >= 4096) keyValidity.delete(keyValidity.keys().next().value!);
    keyValidity.set(id, valid);
  }
  return valid;
}

interface Participant {
  roles: readonly string[];
  keys: Map<string, BundleKey>;
}
interface Shared {
  bundle: BundleV1;
  blocks: Map<number, CheckedHeader>;
  /** Per block height, the nodes of its links tree already proven to lead to its linksRoot. */
  trees: Map<number, ProvenTree>;
  processes: Map<string, CompiledProcess>;
  participants: Map<string, Participant>;
  anchoredAt: Map<number, AnchoredAt>;
  /** Stated link hash → index, for prev lookups. */
  byHash: Map<string, number>;
}

const typeOf = (value: unknown): string | null =>
  typeof value === 'object' && value !== null && 'type' in value && typeof value.type === 'string' ? value.type : null;

const versionKey = (process: string, version: number) => `${process}@${version}`;

export function verifyBundle(value: unknown, opts: BundleVerifyOptions): BundleResult {
  const result: BundleResult = {
    ok: false,
    status: 'failed',
    sharedOk: false,
    type: typeOf(value),
    links: typeof value === 'object' && value !== null && Array.isArray((value as { links?: unknown }).links) ? (value as { links: unknown[] }).links.length : 0,
    verified: 0,
    anchored: 0,
    maps: {},
    processes: [],
    blocks: [],
    anchors: [],
    disclosed: [],
    failures: [],
  };
  let shared: Shared;
  try {
    shared = checkShared(value, opts, result);
  } catch (e) {
    if (!(e instanceof VerificationError)) throw e;
    result.failures.push({ code: e.code, message: e.message });
    return result;
  }
  result.sharedOk = true;
  checkLinks(shared, opts, result);
  result.ok = result.failures.length === 0;
  result.status = result.ok ? 'verified' : 'failed';
  return result;
}

function checkShared(value: unknown, opts: BundleVerifyOptions, result: BundleResult): Shared {
  // 1. Shape.
  const type = result.type;
  if (type !== null && type !== BUNDLE_TYPE && type.startsWith('pop/bundle/')) fail('UNSUPPORTED_VERSION', `${type} is not ${BUNDLE_TYPE}`);
  assertSchema<BundleV1>(SCHEMA_IDS.bundle, value, 'bundle');
  const bundle = value;
  const { scope } = bundle;
  if (!isRfc3339Utc(bundle.createdAt)) fail('MALFORMED', `bundle: createdAt ${bundle.createdAt} is not a real instant`);
  if ('from' in scope) {
    if (!isRfc3339Utc(scope.from) || !isRfc3339Utc(scope.to)) fail('MALFORMED', 'bundle: scope.from and scope.to must be real instants');
    if (compareInstants(scope.from, scope.to) >= 0) fail('MALFORMED', 'bundle: scope.from must be before scope.to');
  }
  result.scope = scope;
  result.createdAt = bundle.createdAt;

  // 2. Notary key: pinned (if the verifier pins), valid.
  const notaryKey = bundle.notary.publicKey;
  let pinned = false;
  if (opts.notaryKeys !== undefined) {
    if (!opts.notaryKeys.includes(notaryKey)) fail('NOTARY_KEY_MISMATCH', `notary key ${notaryKey} is not one of the pinned keys`);
    pinned = true;
  }
  if (!keyValid('ed25519', notaryKey)) fail('KEY_INVALID', 'the notary key is not a valid Ed25519 public key');
  result.notary = { keyId: bundle.notary.keyId, publicKey: notaryKey, pinned };

  // 3. Manifest: the notary's word on which links the scope held at createdAt, in which order.
  const { links, manifest } = bundle;
  if (manifest.count !== links.length) fail('MANIFEST_INVALID', `manifest counts ${manifest.count} links, the bundle has ${links.length}`);
  const digest = bundleDigest(scope, bundle.createdAt, links.map((l) => l.linkHash));
  if (digest !== manifest.digest) fail('MANIFEST_INVALID', `manifest digest is ${manifest.digest}, the scope, createdAt and link hashes give ${digest}`);
  if (!opts.verifier.verify('ed25519', fromHex(notaryKey), bundleManifestMessage(digest), fromHex(manifest.notarySig))) {
    fail('NOTARY_SIGNATURE_INVALID', 'the notary signature on the manifest does not verify');
  }

  // 4. Links in (height, leafIndex) order, each once.
  const byHash = new Map<string, number>();
  links.forEach((l, i) => {
    if (i > 0) {
      const p = links[i - 1]!;
      if (l.height < p.height || (l.height === p.height && l.inclusion.leafIndex <= p.inclusion.leafIndex)) {
        fail('MALFORMED', `links[${i}] (block ${l.height}, leaf ${l.inclusion.leafIndex}) does not come after links[${i - 1}] (block ${p.height}, leaf ${p.inclusion.leafIndex})`);
      }
    }
    if (byHash.has(l.linkHash)) fail('MALFORMED', `link ${l.linkHash} appears twice`);
    byHash.set(l.linkHash, i);
  });

  // 5. Blocks, ascending, each once: layout, proof-of-work, notary signature; consecutive ones chained.
  const blocks = new Map<number, CheckedHeader>();
  let last: CheckedHeader | undefined;
  for (const signed of bundle.blocks) {
    const block = checkSignedHeader(opts.verifier, signed, notaryKey, opts.minDifficulty);
    const { height } = block.fields;
    if (last && height <= last.fields.height) fail('MALFORMED', `block ${height} comes after block ${last.fields.height}: blocks must ascend, each once`);
    if (last && height === last.fields.height + 1 && block.fields.prevHash !== last.hash) {
      fail('HEADER_INVALID', `block ${height} names ${block.fields.prevHash} as previous block, block ${last.fields.height} is ${last.hash}`);
    }
    blocks.set(height, block);
    result.blocks.push({ height, hash: block.hash, timestamp: block.fields.timestamp, difficulty: block.fields.difficulty });
    last = block;
  }

  // 6. Process versions, each once: id, hash, consistency, step schemas.
  const processes = new Map<string, CompiledProcess>();
  for (const p of bundle.processes) {
    const key = versionKey(p.id, p.version);
    if (processes.has(key)) fail('MALFORMED', `process ${p.id} v${p.version} appears twice`);
    const label = `process ${p.id} v${p.version}`;
    if (p.definition.id !== p.id) fail('PROCESS_INVALID', `${label}: the definition's id is ${p.definition.id}`);
    const canonical = canonicalJson(p.definition);
    if (canonical.length > MAX_DEFINITION_CHARS) fail('PROCESS_INVALID', `${label}: the definition exceeds ${MAX_DEFINITION_CHARS} characters`);
    const hash = sha256Hex(canonical);
    if (hash !== p.hash) fail('PROCESS_INVALID', `${label}: stated hash ${p.hash}, the definition hashes to ${hash}`);
    processes.set(key, compileProcess(label, hash, p.definition as ProcessDefinition));
    result.processes.push({ id: p.id, version: p.version, hash });
  }

  // 7. Participants, each once, each key once.
  const participants = new Map<string, Participant>();
  for (const p of bundle.participants) {
    if (participants.has(p.id)) fail('MALFORMED', `participant ${p.id} appears twice`);
    const keys = new Map<string, BundleKey>();
    for (const k of p.keys) {
      if (keys.has(k.keyId)) fail('MALFORMED', `participant ${p.id} has two keys ${k.keyId}`);
      keys.set(k.keyId, { alg: k.alg, publicKey: k.publicKey, bytes: hexBytes(k.publicKey) });
    }
    participants.set(p.id, { roles: p.roles, keys });
  }

  // 8. History entries, ascending (height, to), each once: block `height` is in the history of block `to`.
  const historyOf = new Map<number, number[]>();
  bundle.history.forEach((h, i) => {
    const p = bundle.history[i - 1];
    if (p && (h.height < p.height || (h.height === p.height && h.to <= p.to))) {
      fail('MALFORMED', `history[${i}] (${h.height} → ${h.to}) does not come after history[${i - 1}] (${p.height} → ${p.to})`);
    }
    const from = blocks.get(h.height);
    const to = blocks.get(h.to);
    if (!from || !to) fail('HISTORY_INVALID', `history ${h.height} → ${h.to}: block ${from ? h.to : h.height} is not in the bundle`);
    checkHistory(from.fields, from.hash, to.fields, to.hash, h.path);
    historyOf.set(h.height, [...(historyOf.get(h.height) ?? []), h.to]);
  });

  // 9. Anchors, one per block at most, in ascending order of the block they commit to.
  const blockByHash = new Map([...blocks.values()].map((b) => [b.hash, b]));
  const anchoredBlocks = new Map<number, AnchoredAt>();
  let lastAnchored = -1;
  bundle.anchors.forEach((a, i) => {
    const block = blockByHash.get(a.blockHash);
    if (!block) fail('ANCHOR_INVALID', `anchors[${i}] commits to block ${a.blockHash}, which is not in the bundle`);
    const height = block.fields.height;
    if (height <= lastAnchored) fail('MALFORMED', `anchors[${i}] (block ${height}) does not come after the anchor of block ${lastAnchored}: one anchor per block, ascending`);
    lastAnchored = height;
    const anchored = verifyAnchor(a, block.hash);
    const bitcoinTime = parseBitcoinHeader(fromHex(a.bitcoinBlock.header)).time;
    result.anchors.push({ ...anchored, height, bitcoinTime });
    anchoredBlocks.set(height, {
      block: height,
      network: anchored.network,
      txid: anchored.txid,
      bitcoinBlockHash: anchored.bitcoinBlockHash,
      bitcoinHeight: anchored.bitcoinHeight,
      bitcoinTime,
    });
  });

  // 10. Nothing unused: every block holds a link or is a history target; every history entry starts
  // at a link's block; every process version, participant and key is used by a link.
  const linkHeights = new Set(links.map((l) => l.height));
  const historyTargets = new Set(bundle.history.map((h) => h.to));
  for (const height of blocks.keys()) {
    if (!linkHeights.has(height) && !historyTargets.has(height)) fail('MALFORMED', `block ${height} holds no link of the bundle and no history entry leads to it`);
  }
  for (const h of bundle.history) {
    if (!linkHeights.has(h.height)) fail('MALFORMED', `history ${h.height} → ${h.to} starts at a block that holds no link of the bundle`);
  }
  const usedVersions = new Set(links.map((l) => versionKey(l.link.process, l.link.processVersion)));
  for (const p of bundle.processes) {
    if (!usedVersions.has(versionKey(p.id, p.version))) fail('MALFORMED', `process ${p.id} v${p.version} is used by no link of the bundle`);
  }
  const usedKeys = new Set(links.flatMap((l) => l.signatures.map((s) => `${s.signer}/${s.keyId}`)));
  for (const [id, p] of participants) {
    for (const keyId of p.keys.keys()) {
      if (!usedKeys.has(`${id}/${keyId}`)) fail('MALFORMED', `key ${id}/${keyId} signs no link of the bundle`);
    }
  }

  // A block is anchored by its own anchor, else through the earliest verified history entry to an anchored block.
  const anchoredAt = new Map<number, AnchoredAt>();
  for (const height of linkHeights) {
    const own = anchoredBlocks.get(height);
    const via = (historyOf.get(height) ?? []).filter((to) => anchoredBlocks.has(to)).sort((a, b) => a - b)[0];
    const at = own ?? (via === undefined ? undefined : anchoredBlocks.get(via));
    if (at) anchoredAt.set(height, at);
  }
  const trees = new Map([...blocks].map(([height, b]) => [height, new ProvenTree(b.fields.leafCount, hexBytes(b.fields.linksRoot), opts.sha256)]));
  return { bundle, blocks, trees, processes, participants, anchoredAt, byHash };
}

function checkLinks(shared: Shared, opts: BundleVerifyOptions, result: BundleResult): void {
  const { bundle } = shared;
  const links = bundle.links;
  const maps = new Map<string, BundleLinkResult[]>();
  // Per map: who started it, and which prev hashes non-forking links have already followed.
  const started = new Map<string, number>();
  const followed = new Map<string, number>();
  const total = links.length;
  for (let i = 0; i < total; i++) {
    const entry = links[i]!;
    const link = entry.link;
    const row: BundleLinkResult = {
      index: i,
      linkHash: entry.linkHash,
      step: link.step,
      author: link.author,
      signers: entry.signatures.map((s) => s.signer),
      height: entry.height,
      leafIndex: entry.inclusion.leafIndex,
      createdAt: link.createdAt,
      ok: false,
    };
    try {
      const disclosed = checkLink(shared, opts, i, entry, started, followed);
      row.ok = true;
      result.verified++;
      const at = shared.anchoredAt.get(entry.height);
      if (at) {
        row.anchoredAt = at;
        result.anchored++;
      }
      for (const d of disclosed) result.disclosed.push({ linkHash: entry.linkHash, ...d });
    } catch (e) {
      if (!(e instanceof VerificationError)) throw e;
      row.failure = { code: e.code, message: e.message };
      result.failures.push({ code: e.code, message: e.message, linkHash: entry.linkHash, index: i });
    }
    const list = maps.get(link.mapId);
    if (list) list.push(row);
    else maps.set(link.mapId, [row]);
    if (opts.onProgress && ((i + 1) % 1000 === 0 || i + 1 === total)) opts.onProgress(i + 1, total);
  }
  result.maps = Object.fromEntries(maps);
}

function checkLink(
  shared: Shared,
  { verifier, knownSignature, sha256: sha }: BundleVerifyOptions,
  index: number,
  entry: BundleLink,
  started: Map<string, number>,
  followed: Map<string, number>,
): { field: string; value: Json }[] {
  const { bundle } = shared;
  const link = entry.link;
  const where = `links[${index}]`;

  // a. The link beyond its schema: I-JSON, a real createdAt, digests strictly ascending.
  const canonical = canonicalJson(link);
  if (!isRfc3339Utc(link.createdAt)) fail('MALFORMED', `${where}: createdAt ${link.createdAt} is not a real instant`);
  for (let d = 1; d < link.digests.length; d++) {
    if (link.digests[d - 1]! >= link.digests[d]!) fail('MALFORMED', `${where}: digests must be sorted and unique`);
  }
  // b. Its hash.
  const hash = sha ? toHex(sha(utf8(canonical))) : sha256Hex(canonical);
  if (hash !== entry.linkHash) fail('LINK_HASH_MISMATCH', `${where}: linkHash is ${entry.linkHash}, the link hashes to ${hash}`);
  // c. In scope.
  const { scope } = bundle;
  if (link.process !== scope.process) fail('MANIFEST_INVALID', `${where}: a link of process ${link.process} in a bundle of process ${scope.process}`);
  if ('mapId' in scope && scope.mapId !== undefined && link.mapId !== scope.mapId) {
    fail('MANIFEST_INVALID', `${where}: a link of map ${link.mapId} in a bundle of map ${scope.mapId}`);
  }

  // d. Signatures, against the signers' keys in `participants`; the author signs.
  let message: Uint8Array | undefined;
  const seen = new Set<string>();
  entry.signatures.forEach((s, j) => {
    const id = `${s.signer}/${s.keyId}`;
    if (seen.has(id)) fail('MALFORMED', `${where}: two signatures by ${id}`);
    seen.add(id);
    const key = shared.participants.get(s.signer)?.keys.get(s.keyId);
    if (!key) fail('KEY_UNKNOWN', `${where}: no key ${id} in participants for the signature`);
    if (key.alg !== s.alg) fail('SIGNATURE_INVALID', `${where}: signature by ${id} is ${s.alg}, the key is ${key.alg}`);
    key.valid ??= keyValid(key.alg, key.publicKey);
    if (!key.valid) fail('KEY_INVALID', `${where}: key ${id} is not a valid ${key.alg} public key`);
    const known = knownSignature?.(index, j);
    const valid =
      known !== undefined && known.sig === s.sig && known.linkHash === hash && known.publicKey === key.publicKey && known.alg === s.alg
        ? known.valid
        : verifier.verify(s.alg, key.bytes, (message ??= linkMessage(hash)), hexBytes(s.sig));
    if (!valid) fail('SIGNATURE_INVALID', `${where}: signature by ${id} does not verify`);
  });
  if (!entry.signatures.some((s) => s.signer === link.author)) fail('SIGNATURE_MISSING', `${where}: the author ${link.author} did not sign`);

  // e. Inclusion in its block.
  const block = shared.blocks.get(entry.height);
  if (!block) fail('INCLUSION_INVALID', `${where}: block ${entry.height} is not in the bundle`);
  const { leafIndex, treeSize, path } = entry.inclusion;
  if (treeSize !== block.fields.leafCount) {
    fail('INCLUSION_INVALID', `${where}: inclusion tree size ${treeSize} is not block ${entry.height}'s leaf count ${block.fields.leafCount}`);
  }
  shared.trees.get(entry.height)!.verify(leafIndex, sha ? sha(concatBytes(LEAF, hexBytes(hash))) : leafHash(hexBytes(hash)), path, where);

  // f. Disclosures.
  let disclosed: { field: string; value: Json }[];
  try {
    disclosed = disclosedFields(entry.disclosures ?? [], link.digests);
  } catch (e) {
    if (e instanceof VerificationError) fail(e.code, `${where}: ${e.message}`);
    throw e;
  }

  // g. The rules of the bundled process version.
  const label = `${link.process} v${link.processVersion}`;
  const version = shared.processes.get(versionKey(link.process, link.processVersion));
  if (!version) fail('MALFORMED', `${where}: process ${label} is not in the bundle`);
  const step = version.steps.get(link.step);
  if (!step) fail('RULE_VIOLATION', `${where}: process ${label} has no step ${link.step}`);
  if (step.meta && !step.meta(link.meta)) fail('RULE_VIOLATION', `${where}: meta does not match the schema of step ${link.step}: ${describeErrors(step.meta.errors)}`);
  const author = shared.participants.get(link.author)!; // the author signed, so its key is there
  if (!step.definition.authors.some((r) => author.roles.includes(r))) {
    fail('RULE_VIOLATION', `${where}: step ${link.step} is authored by ${step.definition.authors.join(' or ')}; ${link.author} holds ${author.roles.join(', ') || 'no role'}`);
  }
  const roles = new Set(entry.signatures.flatMap((s) => shared.participants.get(s.signer)!.roles));
  for (const role of step.definition.signers) {
    if (!roles.has(role)) fail('RULE_VIOLATION', `${where}: step ${link.step} needs a signature by a ${role}`);
  }
  const map = `${link.process}\n${link.mapId}`;
  if (link.prev.length === 0) {
    if (step.definition.after.length > 0) fail('RULE_VIOLATION', `${where}: step ${link.step} cannot start a map; it follows ${step.definition.after.join(' or ')}`);
    const first = started.get(map);
    if (first !== undefined) fail('RULE_VIOLATION', `${where}: map ${link.mapId} was already started by links[${first}]`);
    started.set(map, index);
  }
  const forks = version.definition.forks === true;
  for (const prevHash of link.prev) {
    const p = shared.byHash.get(prevHash);
    if (p === undefined) {
      if (!('from' in scope)) fail('MANIFEST_INVALID', `${where}: prev ${prevHash} is not in the bundle, which should hold the whole ${'mapId' in scope && scope.mapId !== undefined ? `map ${scope.mapId}` : `process ${scope.process}`}`);
      continue; // a time-range bundle starts mid-map
    }
    const prev = bundle.links[p]!.link;
    if (prev.process !== link.process || prev.mapId !== link.mapId) fail('RULE_VIOLATION', `${where}: prev ${prevHash} is not a link of map ${link.mapId}`);
    if (!step.definition.after.includes(prev.step)) {
      fail('RULE_VIOLATION', `${where}: step ${link.step} may not follow ${prev.step} (it follows ${step.definition.after.join(', ') || 'nothing: it starts a map'})`);
    }
    if (version.steps.get(prev.step)?.definition.final === true) fail('RULE_VIOLATION', `${where}: no step may follow ${prev.step}, which is final`);
    if (!forks) {
      const key = `${map}\n${prevHash}`;
      const other = followed.get(key);
      if (other !== undefined) fail('RULE_VIOLATION', `${where}: links[${other}] already follows ${prevHash}, and process ${label} does not allow forks`);
      followed.set(key, index);
    }
  }
  return disclosed;
}

// --- signature checks elsewhere (worker threads, web workers) ---

/** One link signature with the key the bundle gives for it: what a worker needs to check it. */
export interface SignatureJob {
  /** Position: signature `signature` of `links[link]`. */
  link: number;
  signature: number;
  alg: Alg;
  publicKey: string;
  linkHash: string;
  sig: string;
}

/** A verdict on a link signature reached elsewhere (BundleVerifyOptions.knownSignature). */
export interface KnownSignature {
  alg: string;
  publicKey: string;
  linkHash: string;
  sig: string;
  valid: boolean;
}

const HASH = /^[0-9a-f]{64}$/;
const SIG = /^[0-9a-f]{128}$/;
const KEY = /^(?:[0-9a-f]{64}|0[23][0-9a-f]{64})$/;

/**
 * The link signatures of a (possibly invalid) bundle with the keys `participants` gives for them,
 * so they can be checked in parallel before or while verifyBundle runs; anything malformed is
 * skipped (verifyBundle checks it itself, and reports it). The message of each is
 * pop:link:v1:<linkHash>, with the link's stated hash.
 */
export function bundleSignatureJobs(value: unknown): SignatureJob[] {
  const b = value as { links?: unknown; participants?: unknown } | null;
  if (typeof b !== 'object' || b === null || !Array.isArray(b.links) || !Array.isArray(b.participants)) return [];
  const keys = new Map<string, { alg?: unknown; publicKey?: unknown }>();
  for (const p of b.participants as { id?: unknown; keys?: unknown }[]) {
    if (typeof p !== 'object' || p === null || typeof p.id !== 'string' || !Array.isArray(p.keys)) continue;
    for (const k of p.keys as { keyId?: unknown; alg?: unknown; publicKey?: unknown }[]) {
      if (typeof k === 'object' && k !== null && typeof k.keyId === 'string') keys.set(`${p.id}/${k.keyId}`, k);
    }
  }
  const jobs: SignatureJob[] = [];
  (b.links as { linkHash?: unknown; signatures?: unknown }[]).forEach((l, link) => {
    if (typeof l !== 'object' || l === null || typeof l.linkHash !== 'string' || !HASH.test(l.linkHash) || !Array.isArray(l.signatures)) return;
    (l.signatures as { signer?: unknown; keyId?: unknown; alg?: unknown; sig?: unknown }[]).forEach((s, signature) => {
      if (typeof s !== 'object' || s === null) return;
      const key = keys.get(`${String(s.signer)}/${String(s.keyId)}`);
      if (!key || key.alg !== s.alg || !isAlg(s.alg) || typeof key.publicKey !== 'string' || !KEY.test(key.publicKey)) return;
      if (typeof s.sig !== 'string' || !SIG.test(s.sig)) return;
      jobs.push({ link, signature, alg: s.alg, publicKey: key.publicKey, linkHash: l.linkHash as string, sig: s.sig });
    });
  });
  return jobs;
}
