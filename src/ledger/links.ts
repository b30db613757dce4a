// Link intake (spec §4): everything that can be checked without the database first (shape, hash,
// process version, schemas, disclosures, clock skew, signatures, roles), then one transaction that
// locks the map's row, checks idempotency, refs, prev and the transition, and stores the link and
// its encrypted private data. A batch is the same in one transaction: all or nothing.
import { VerificationError } from '../core/errors.js';
import { parseDisclosure } from '../core/disclosure.js';
import { fromHex } from '../core/bytes.js';
import type { Json } from '../core/jcs.js';
import { type Link, checkLinkCanonical } from '../core/link.js';
import { linkMessage, receiptMessage } from '../core/signature.js';
import { nodeSha256Hex as sha256Hex } from '../node/hash.js';
import type { Actor } from './api-keys.js';
import { Coalescer } from './cache.js';
import { LedgerError, refuse } from './errors.js';
import type { Alg } from '../core/signature.js';
import type { LedgerDeps, LedgerObserver, LinkSignatureJob } from './ports.js';
import { type CompiledProcess, publicErrors } from './process-rules.js';
import type { Processes } from './processes.js';

export interface SubmittedSignature {
  signer: string;
  keyId: string;
  alg: string;
  sig: string;
}

export interface Submission {
  link: unknown;
  signatures: SubmittedSignature[];
  private?: { disclosures: string[] };
}

export interface Receipt {
  linkHash: string;
  acceptedAt: string;
  notary: { keyId: string; alg: 'ed25519'; publicKey: string };
  sig: string;
}

export interface Acceptance {
  linkHash: string;
  status: 'accepted';
  /** false when the link was already accepted: the same answer as the first time */
  created: boolean;
  receipt: Receipt;
}

interface Prepared {
  link: Link;
  hash: string;
  canonical: string;
  signatures: SubmittedSignature[];
  disclosures: string[];
  /** The disclosed fields and values: what the step's private schema checks. */
  privateData: Record<string, Json>;
}

interface SignerKey {
  alg: Alg;
  publicKey: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

type Signers = Map<string, { roles: string[]; keys: Map<string, SignerKey> }>;

interface SignerRow {
  id: string;
  roles: string[];
  keys: { key_id: string; alg: Alg; public_key: string; expires_ms: number | null; revoked_ms: number | null }[];
}

/** One link as pop_append (migrations/006_append_groups.sql) takes it. */
export interface AppendItem {
  hash: string;
  process: string;
  version: number;
  map_id: string;
  step: string;
  author: string;
  created_at: string;
  prev: string[];
  refs: string[];
  tags: string[];
  canonical: string;
  signatures: SubmittedSignature[];
  accepted_at: string;
  accepted_ts: string;
  receipt_sig: string;
  /** [participant, keyId] of each signature: pop_append refuses if one is revoked by now. */
  keys: [string, string][];
  private: { key_id: string; iv: string; ciphertext: string; tag: string } | null;
  starts: boolean;
  after: string[];
  finals: string[];
  forks: boolean;
  index: number | null;
}

/** What pop_append answers for a link it stored, or had stored already. */
interface Stored {
  hash: string;
  created: boolean;
  accepted_at: string;
  receipt_sig: string;
}

/** What a refusal of pop_append carries (migrations/005_append.sql, 006_append_groups.sql). */
interface RefusalDetail {
  index: number | null;
  heads?: string[];
  missing?: string[];
  prev?: string;
  prevStep?: string;
}

interface Refused {
  errcode: string;
  code: string;
  detail: RefusalDetail;
}

/** A single append's answer from a group: stored, refused, or the error of its own call. */
type GroupOutcome = Stored | { hash: string; refused: Refused } | { failed: unknown };

/** Checks one link signature: the key's algorithm, the key (hex), the link's hash, the signature (hex). */
type VerifyFn = (alg: Alg, publicKey: string, linkHash: string, sig: string) => boolean;

/** pop_append found a signing key revoked that the cache thought valid: check again with fresh keys. */
class KeysChanged extends Error {
  constructor(readonly index: number | null) {
    super(`${index === null ? '' : `links[${index}]: `}a signing key of the link was revoked while it was being stored`);
  }
}

/** Participants whose roles and keys are kept in memory at most (then the cache starts afresh). */
const SIGNER_CACHE_MAX = 10_000;

/**
 * Single appends: at most this many pop_append calls at a time; appends that arrive meanwhile wait
 * and go together in the next call, at most GROUP_MAX of them. One: the same throughput at
 * saturation as two, and at moderate load bigger groups, ≈ 18% less PostgreSQL CPU and a shorter
 * tail (docs/performance.md, item 20).
 */
const GROUPS_IN_FLIGHT = 1;
const GROUP_MAX = 256;

const MAX_FIELD_TEXT = 1024;


/** Parse-level checks: the link's shape, its hash, and the disclosures against its digests. */
function prepare(sub: Submission): Prepared {
  let link: Link;
  let canonical: string;
  try {
    ({ link, canonical } = checkLinkCanonical(sub.link));
  } catch (e) {
    if (e instanceof VerificationError) refuse('malformed', e.message);
    throw e;
  }
  if (link.tags.some((t) => t.includes('\u0000'))) refuse('malformed', 'link: tags may not contain U+0000');
  const hash = sha256Hex(canonical);
  const disclosures = sub.private?.disclosures ?? [];
  const privateData: Record<string, Json> = {};
  const digests = new Set(link.digests);
  const covered = new Set<string>();
  const fields = new Set<string>();
  const salts = new Set<string>();
  for (const [i, d] of disclosures.entries()) {
    let parsed;
    try {
      parsed = parseDisclosure(d, sha256Hex);
    } catch (e) {
      if (e instanceof VerificationError) refuse('disclosure-invalid', `private.disclosures[${i}]: ${e.message}`);
      throw e;
    }
    if (!digests.has(parsed.digest)) refuse('disclosure-invalid', `private.disclosures[${i}] (field "${parsed.field.slice(0, MAX_FIELD_TEXT)}") is not among the link's digests`);
    if (fields.has(parsed.field)) refuse('disclosure-invalid', `field "${parsed.field.slice(0, MAX_FIELD_TEXT)}" is disclosed twice`);
    // docs/protocol.md §3: a fresh salt per field. (The salt itself is private: never in the message.)
    if (salts.has(parsed.salt)) refuse('disclosure-invalid', `private.disclosures[${i}] reuses the salt of another field of this link: draw a fresh salt per field`);
    fields.add(parsed.field);
    salts.add(parsed.salt);
    covered.add(parsed.digest);
    privateData[parsed.field] = parsed.value;
  }
  if (covered.size !== digests.size) {
    refuse('disclosure-invalid', `the link has ${digests.size} digests but ${covered.size} matching disclosures: send one disclosure per digest`);
  }
  const seen = new Set<string>();
  for (const s of sub.signatures) {
    const id = `${s.signer}/${s.keyId}`;
    if (seen.has(id)) refuse('malformed', `two signatures by ${id}`);
    seen.add(id);
  }
  return { link, hash, canonical, signatures: sub.signatures, disclosures, privateData };
}

export class Links {
  readonly #deps: LedgerDeps;
  readonly #processes: Processes;
  /**
   * Participants' roles and keys. Roles never change and keys are only added or revoked (migration
   * 001's triggers): a key missing here sends the request down the lookup path, and pop_append
   * refuses to store a link whose signing key is revoked in the database, whatever this says.
   */
  readonly #signerCache: Signers = new Map();
  /** Single appends waiting to be stored together (#appendGroup). */
  readonly #groups = new Coalescer<AppendItem, GroupOutcome>(async (items) => this.#appendGroup(items), { maxBatch: GROUP_MAX, maxInFlight: GROUPS_IN_FLIGHT });

  constructor(deps: LedgerDeps, processes: Processes) {
    this.#deps = deps;
    this.#processes = processes;
  }

  async submit(sub: Submission, actor: Actor): Promise<Acceptance> {
    return (await this.submitBatch([sub], actor, false))[0]!;
  }

  /** Accepts every link or none; `indexed` adds the failing index to errors (batch endpoint). */
  async submitBatch(subs: Submission[], actor: Actor, indexed = true): Promise<Acceptance[]> {
    if (subs.length === 0) refuse('malformed', 'an empty batch');
    if (subs.length > this.#deps.limits.batchMax) refuse('too-large', `a batch holds at most ${this.#deps.limits.batchMax} links`);
    const at = <T>(i: number, f: () => T): T => {
      try {
        return f();
      } catch (e) {
        if (indexed && e instanceof LedgerError) throw new LedgerError(e.code, `links[${i}]: ${e.message}`, { ...e.details, index: i });
        throw e;
      }
    };
    const prepared = subs.map((s, i) => at(i, () => prepare(s)));
    prepared.forEach((p, i) =>
      at(i, () => {
        if (actor.role === 'participant' && p.link.author !== actor.participantId) {
          refuse('forbidden', `this API key acts for ${actor.participantId}; it cannot submit a link authored by ${p.link.author}`);
        }
      }),
    );

    const now = this.#deps.now();
    const processes = new Map<string, CompiledProcess>();
    for (const p of prepared) {
      const key = `${p.link.process}@${p.link.processVersion}`;
      if (!processes.has(key)) {
        const c = await this.#processes.compiled(p.link.process, p.link.processVersion);
        if (c) processes.set(key, c);
      }
    }
    const signerIds = [...new Set(prepared.flatMap((p) => p.signatures.map((s) => s.signer)))];
    const hashes = prepared.map((p) => p.hash);

    // The fast path: signers from the cache, every link checked, then one call that stores them (a
    // link stored already answers as it did the first time; a key revoked since it was cached is
    // caught there). Only a refusal, or keys that changed, costs a lookup: stored links are then
    // answered without their checks (as the first time), and the signers are read afresh.
    let existing = new Map<string, unknown>();
    let signers = await this.#cachedSigners(signerIds);
    const acceptedAt = now.toISOString();
    for (let attempt = 0; ; attempt++) {
      let receipts: Map<string, string>;
      try {
        receipts = await this.#checkAll(prepared, existing, signers, processes, now, acceptedAt, at);
      } catch (e) {
        if (!(e instanceof LedgerError) || attempt > 0) throw e;
        ({ existing, signers } = await this.#lookup(hashes, signerIds));
        receipts = await this.#checkAll(prepared, existing, signers, processes, now, acceptedAt, at);
      }
      const items: AppendItem[] = [];
      const queued = new Set<string>();
      for (const [i, p] of prepared.entries()) {
        if (existing.has(p.hash) || queued.has(p.hash)) continue;
        queued.add(p.hash);
        items.push(this.#item(p, processes.get(`${p.link.process}@${p.link.processVersion}`), acceptedAt, receipts.get(p.hash), now, indexed ? i : null));
      }
      try {
        return await this.#finish(prepared, items, existing, processes);
      } catch (e) {
        if (!(e instanceof KeysChanged)) throw e;
        // Revoked between the fresh lookup and the store: refused as a revoked key, which it now is.
        if (attempt > 0) refuse('key-revoked', e.message, e.index === null ? {} : { index: e.index });
        ({ existing, signers } = await this.#lookup(hashes, signerIds));
      }
    }
  }

  /** Stores the items (one round trip) and answers for every prepared link, in order. */
  async #finish(prepared: Prepared[], items: AppendItem[], existing: Map<string, unknown>, processes: Map<string, CompiledProcess>): Promise<Acceptance[]> {
    const stored = new Map<string, Stored>();
    if (items.length) {
      for (const r of await this.#append(items, prepared, processes)) stored.set(r.hash, r);
    }
    const results = prepared.map((p) => {
      const old = existing.get(p.hash) as { accepted_at: string; receipt_sig: string } | undefined;
      if (old) return this.#acceptance(p.hash, old.accepted_at, old.receipt_sig, false);
      const r = stored.get(p.hash)!;
      return this.#acceptance(p.hash, r.accepted_at, r.receipt_sig, r.created);
    });
    // A link twice in one batch is stored once: the second answers as a replay. (Each new link's
    // event comes from the database, on every server: src/ledger/events.ts.)
    const answered = new Set<string>();
    for (const [i, r] of results.entries()) {
      if (!r.created) continue;
      if (answered.has(r.linkHash)) results[i] = { ...r, created: false };
      else answered.add(r.linkHash);
    }
    if (answered.size) this.#observe((o) => o.linksAccepted?.(answered.size));
    return results;
  }

  /** The signers' roles and keys from the cache; the ones it lacks in one query. */
  async #cachedSigners(ids: string[]): Promise<Signers> {
    const out: Signers = new Map();
    const missing: string[] = [];
    for (const id of ids) {
      const s = this.#signerCache.get(id);
      if (s) out.set(id, s);
      else missing.push(id);
    }
    if (missing.length) for (const [id, s] of (await this.#lookup([], missing)).signers) out.set(id, s);
    return out;
  }

  /** One round trip: which links are stored already, and the signers' roles and keys afresh (cached). */
  async #lookup(hashes: string[], signerIds: string[]): Promise<{ existing: Map<string, { accepted_at: string; receipt_sig: string }>; signers: Signers }> {
    const { rows } = await this.#deps.pool.query<{ existing: { hash: string; accepted_at: string; receipt_sig: string }[]; signers: SignerRow[] }>({
      name: 'pop-append-lookup',
      text: `SELECT
        (SELECT coalesce(jsonb_agg(jsonb_build_object('hash', hash, 'accepted_at', accepted_at, 'receipt_sig', receipt_sig)), '[]')
           FROM links WHERE hash = ANY($1::text[])) AS existing,
        (SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'roles', p.roles, 'keys',
            (SELECT coalesce(jsonb_agg(jsonb_build_object('key_id', k.key_id, 'alg', k.alg, 'public_key', k.public_key,
                      'expires_ms', floor(extract(epoch FROM k.expires_at) * 1000), 'revoked_ms', floor(extract(epoch FROM k.revoked_at) * 1000))), '[]')
               FROM participant_keys k WHERE k.participant_id = p.id))), '[]')
           FROM participants p WHERE p.id = ANY($2::text[])) AS signers`,
      values: [hashes, signerIds],
    });
    const row = rows[0]!;
    const signers: Signers = new Map();
    for (const s of row.signers) {
      const keys = new Map<string, SignerKey>();
      for (const k of s.keys) {
        keys.set(k.key_id, {
          alg: k.alg,
          publicKey: k.public_key,
          expiresAt: k.expires_ms === null ? null : new Date(k.expires_ms),
          revokedAt: k.revoked_ms === null ? null : new Date(k.revoked_ms),
        });
      }
      signers.set(s.id, { roles: s.roles, keys });
    }
    if (this.#signerCache.size + signers.size > SIGNER_CACHE_MAX) this.#signerCache.clear();
    for (const [id, s] of signers) this.#signerCache.set(id, s);
    return { existing: new Map(row.existing.map((e) => [e.hash, e])), signers };
  }

  /** What pop_append (migrations/006_append_groups.sql) needs for one link, receipt signed and private data sealed. */
  #item(p: Prepared, process: CompiledProcess | undefined, acceptedAt: string, receiptSig: string | undefined, now: Date, index: number | null): AppendItem {
    const { link, hash } = p;
    const step = process?.steps.get(link.step);
    let sealed: AppendItem['private'] = null;
    if (p.disclosures.length) {
      const box = this.#deps.cipher.encrypt(JSON.stringify(p.disclosures), hash);
      sealed = { key_id: this.#deps.cipher.keyId, iv: box.iv.toString('hex'), ciphertext: box.ciphertext.toString('hex'), tag: box.tag.toString('hex') };
    }
    return {
      hash,
      process: link.process,
      version: link.processVersion,
      map_id: link.mapId,
      step: link.step,
      author: link.author,
      created_at: link.createdAt,
      prev: link.prev,
      refs: [...new Set(link.refs.map((r) => r.linkHash))],
      tags: link.tags,
      canonical: p.canonical,
      signatures: p.signatures,
      accepted_at: acceptedAt,
      accepted_ts: now.toISOString(),
      receipt_sig: receiptSig ?? this.#deps.notary.sign(receiptMessage(hash, acceptedAt)),
      keys: p.signatures.map((sg) => [sg.signer, sg.keyId]),
      private: sealed,
      starts: (step?.definition.after.length ?? 0) === 0,
      after: step?.definition.after ?? [],
      finals: process ? [...process.steps].filter(([, s]) => s.definition.final).map(([name]) => name) : [],
      forks: process?.definition.forks ?? false,
      index,
    };
  }

  /** One round trip: pop_append stores every item or none, or refuses with a code this turns into a LedgerError. */
  async #append(items: AppendItem[], prepared: Prepared[], processes: Map<string, CompiledProcess>): Promise<Stored[]> {
    if (items.length === 1 && items[0]!.index === null) {
      // A single append: stored with the others that arrive meanwhile, its own verdict kept.
      const outcome = (await this.#groups.load(items[0]!))!;
      if ('failed' in outcome) throw outcome.failed;
      if ('refused' in outcome) return this.#refusal(outcome.refused.errcode, outcome.refused.code, outcome.refused.detail, items, prepared, processes);
      return [outcome];
    }
    try {
      const { rows } = await this.#deps.pool.query<{ r: Stored[] }>({
        name: 'pop-append',
        text: 'SELECT pop_append($1::jsonb) AS r',
        values: [JSON.stringify(items)],
      });
      return rows[0]!.r;
    } catch (e) {
      const err = e as { code?: string; message?: string; detail?: string };
      if (err.code !== 'PP001' && err.code !== 'PP409' && err.code !== 'PP422') throw e;
      return this.#refusal(err.code, err.message ?? '', JSON.parse(err.detail ?? '{}') as RefusalDetail, items, prepared, processes, e);
    }
  }

  /**
   * Stores single appends from unrelated requests in one pop_append call (one transaction, one
   * commit): `independent`, so a refused link is answered with its refusal and the others are
   * stored. A call that fails on one link's data (SQLSTATE classes 22, 23: nothing a link passing
   * the checks should cause) is retried in halves down to that link, so only its request sees the error.
   */
  async #appendGroup(items: AppendItem[]): Promise<Map<AppendItem, GroupOutcome>> {
    const values = [JSON.stringify(items)];
    const started = performance.now();
    let results: (Stored | { hash: string; refused: Refused })[];
    try {
      const { rows } = await this.#deps.pool.query<{ r: typeof results }>({ name: 'pop-append-group', text: 'SELECT pop_append($1::jsonb, true) AS r', values });
      results = rows[0]!.r;
    } catch (e) {
      this.#observeGroup(items.length, started);
      const code = (e as { code?: string }).code ?? '';
      if (items.length === 1 || !(code.startsWith('22') || code.startsWith('23'))) throw e;
      // Halves, each on its own: only calls holding the failing link fail again, so a group of n
      // finds it in at most 2·log2(n) calls, not n; every other link gets its own answer.
      const half = async (part: AppendItem[]): Promise<Map<AppendItem, GroupOutcome>> => {
        try {
          return await this.#appendGroup(part);
        } catch (failed) {
          return new Map(part.map((it) => [it, { failed }]));
        }
      };
      const mid = Math.ceil(items.length / 2);
      return new Map([...(await half(items.slice(0, mid))), ...(await half(items.slice(mid)))]);
    }
    this.#observeGroup(items.length, started);
    return new Map(items.map((it, k) => [it, results[k]!]));
  }

  /** Reports a group call, answered or failed, to the metrics. */
  #observeGroup(links: number, started: number): void {
    this.#observe((o) => o.appendGroup?.(links, (performance.now() - started) / 1000));
  }

  /** A failing observer never fails the appends. */
  #observe(report: (observer: LedgerObserver) => void): void {
    try {
      if (this.#deps.observer) report(this.#deps.observer);
    } catch {
      /* metrics are not worth an append */
    }
  }

  /** A refusal of pop_append (raised, or a group's answer) as the LedgerError it stands for. */
  #refusal(errcode: string, code: string, detail: RefusalDetail, items: AppendItem[], prepared: Prepared[], processes: Map<string, CompiledProcess>, raised?: unknown): never {
    if (errcode === 'PP001') throw new KeysChanged(detail.index ?? null);
    const item = items.find((it) => it.index === detail.index) ?? items[0]!;
    const link = prepared.find((p) => p.hash === item.hash)!.link;
    const step = processes.get(`${link.process}@${link.processVersion}`)?.steps.get(link.step)?.definition;
    const after = step?.after ?? [];
    const index = detail.index ?? null;
    const fail = (c: Parameters<typeof refuse>[0], message: string, details: Record<string, unknown> = {}): never =>
      refuse(c, index === null ? message : `links[${index}]: ${message}`, index === null ? details : { ...details, index });
    switch (code) {
      case 'unknown-ref':
        return fail('unknown-ref', `refs name links that do not exist: ${(detail.missing ?? []).join(', ')}`);
      case 'map-exists':
        return fail('stale-head', `map ${link.mapId} already exists; name its head in prev`, { heads: detail.heads });
      case 'cannot-start':
        return fail('transition-not-allowed', `step ${link.step} cannot start a map; it follows ${after.join(' or ')}`);
      case 'started-concurrently':
        return fail('stale-head', `map ${link.mapId} was started concurrently; name its head in prev`);
      case 'no-map':
        return fail('transition-not-allowed', `map ${link.mapId} does not exist; a map starts with "prev": []`);
      case 'prev-foreign':
        return fail('transition-not-allowed', `prev ${detail.prev} is not a link of map ${link.mapId}`);
      case 'stale-head':
        return fail('stale-head', `prev does not name the current head of map ${link.mapId}`, { heads: detail.heads });
      case 'may-not-follow':
        return fail('transition-not-allowed', `step ${link.step} may not follow ${detail.prevStep} (it follows ${after.join(', ') || 'nothing: it starts a map'})`);
      case 'after-final':
        return fail('transition-not-allowed', `no step may follow ${detail.prevStep}, which is final`);
      default:
        throw raised ?? new Error(`pop_append refused with an unknown code ${code}`);
    }
  }

  /**
   * Every rule of spec §4 that needs no lock, for each link not stored yet, in order: the first
   * refusal wins, as if each link were checked alone. With a PooledVerifier, a first pass assumes
   * every signature valid and records them, the pool checks the recorded ones (on its worker threads
   * under load: src/node/signature-pool.ts), and the links are checked again with the real verdicts
   * only if one is invalid (so the refusal is the very one an in-order check would give). A pool
   * holding the notary's key signs the receipts (over `acceptedAt`) of links that pass, in the same
   * trip: answered as link hash → signature (empty otherwise: #item signs).
   */
  async #checkAll(
    prepared: Prepared[],
    existing: Map<string, unknown>,
    signers: Signers,
    processes: Map<string, CompiledProcess>,
    now: Date,
    acceptedAt: string,
    at: <T>(i: number, f: () => T) => T,
  ): Promise<Map<string, string>> {
    const todo = prepared.flatMap((p, i) => (existing.has(p.hash) ? [] : [i]));
    let current = 0;
    const checkUpTo = (verify: VerifyFn, last = Infinity): void => {
      for (const i of todo) {
        if (i > last) return;
        current = i;
        const p = prepared[i]!;
        at(i, () => this.#check(p, processes.get(`${p.link.process}@${p.link.processVersion}`), signers, now, verify));
      }
    };
    const verifier = this.#deps.verifier;
    const pooled = 'verifyLinkSignatures' in verifier ? verifier : undefined;
    if (!pooled) {
      checkUpTo((alg, key, hash, sig) => verifier.verify(alg, fromHex(key), linkMessage(hash), fromHex(sig)));
      return new Map();
    }
    const jobs: LinkSignatureJob[] = [];
    let failedAt = Infinity;
    let refusal: unknown;
    try {
      checkUpTo((alg, publicKey, linkHash, sig) => {
        jobs.push({ alg, publicKey, linkHash, sig });
        return true;
      });
    } catch (e) {
      refusal = e;
      failedAt = current;
    }
    // Asked in the same turn as the signatures, so both travel in one task.
    const toSign = refusal === undefined && pooled.signAsNotary && pooled.notaryPublicKey === this.#deps.notary.publicKey ? [...new Set(todo.map((i) => prepared[i]!.hash))] : [];
    const signing = toSign.length ? pooled.signAsNotary!(toSign.map((h) => receiptMessage(h, acceptedAt))) : undefined;
    signing?.catch(() => {}); // awaited below; never left to reject unhandled if the checks throw first
    const verdicts = await pooled.verifyLinkSignatures(jobs);
    if (verdicts.every(Boolean)) {
      if (refusal !== undefined) throw refusal;
      const sigs = signing ? await signing : [];
      return new Map(sigs.map((sig, k) => [toSign[k]!, sig]));
    }
    await signing; // wasted, but nothing is left running once the request is answered
    const known = new Map(jobs.map((j, k) => [`${j.alg}/${j.publicKey}/${j.linkHash}/${j.sig}`, verdicts[k]!]));
    checkUpTo((alg, key, hash, sig) => known.get(`${alg}/${key}/${hash}/${sig}`) ?? verifier.verify(alg, fromHex(key), linkMessage(hash), fromHex(sig)), failedAt);
    if (refusal !== undefined) throw refusal;
    return new Map();
  }

  #check(p: Prepared, process: CompiledProcess | undefined, signers: Signers, now: Date, verify: VerifyFn): void {
    const { link } = p;
    if (!process) refuse('unknown-process', `process ${link.process} has no version ${link.processVersion}`);
    const step = process.steps.get(link.step);
    if (!step) refuse('unknown-step', `process ${link.process} v${link.processVersion} has no step ${link.step}`);
    if (step.meta && !step.meta(link.meta)) {
      refuse('schema-violation', `meta does not match the schema of step ${link.step}`, { errors: publicErrors(step.meta.errors) });
    }
    if (step.private && !step.private(p.privateData)) {
      refuse('private-schema-violation', `the private data does not match the private schema of step ${link.step}`, {
        errors: publicErrors(step.private.errors),
      });
    }
    const skew = Math.abs(Date.parse(link.createdAt) - now.getTime());
    if (skew > this.#deps.limits.maxClockSkewMs) {
      refuse('clock-skew', `createdAt ${link.createdAt} is ${Math.round(skew / 1000)} s from the service clock; at most ${this.#deps.limits.maxClockSkewMs / 1000} s allowed`);
    }
    const roles = new Set<string>();
    for (const s of p.signatures) {
      const signer = signers.get(s.signer);
      const key = signer?.keys.get(s.keyId);
      if (!signer || !key) refuse('unknown-key', `participant ${s.signer} has no key ${s.keyId}`);
      if (key.alg !== s.alg) refuse('signature-invalid', `key ${s.signer}/${s.keyId} is ${key.alg}, the signature says ${s.alg}`);
      if (key.revokedAt && key.revokedAt.getTime() <= now.getTime()) refuse('key-revoked', `key ${s.signer}/${s.keyId} was revoked at ${key.revokedAt.toISOString()}`);
      if (key.expiresAt && key.expiresAt.getTime() <= now.getTime()) refuse('key-expired', `key ${s.signer}/${s.keyId} expired at ${key.expiresAt.toISOString()}`);
      if (!verify(key.alg, key.publicKey, p.hash, s.sig)) {
        refuse('signature-invalid', `the signature by ${s.signer}/${s.keyId} does not verify over pop:link:v1:${p.hash}`);
      }
      for (const r of signer.roles) roles.add(r);
    }
    const author = signers.get(link.author);
    if (!author || !p.signatures.some((s) => s.signer === link.author)) refuse('signer-missing', `the author ${link.author} did not sign`);
    if (!step.definition.authors.some((r) => author.roles.includes(r))) {
      refuse('author-not-allowed', `step ${link.step} is authored by ${step.definition.authors.join(' or ')}; ${link.author} holds ${author.roles.join(', ') || 'no role'}`);
    }
    for (const role of step.definition.signers) {
      if (!roles.has(role)) refuse('signer-missing', `step ${link.step} needs a signature by a ${role}`);
    }
  }

  #acceptance(hash: string, acceptedAt: string, sig: string, created: boolean): Acceptance {
    const { keyId, publicKey } = this.#deps.notary;
    return { linkHash: hash, status: 'accepted', created, receipt: { linkHash: hash, acceptedAt, notary: { keyId, alg: 'ed25519', publicKey }, sig } };
  }
}

