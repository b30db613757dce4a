// Link intake (spec §4): everything that can be checked without the database first (shape, hash,
// process version, schemas, disclosures, clock skew, signatures, roles), then one transaction that
// locks the map's row, checks idempotency, refs, prev and the transition, and stores the link and
// its encrypted private data. A batch is the same in one transaction: all or nothing.
import type { PoolClient } from 'pg';
import { VerificationError } from '../core/errors.js';
import { parseDisclosure } from '../core/disclosure.js';
import { fromHex } from '../core/bytes.js';
import { canonicalJson, type Json } from '../core/jcs.js';
import { type Link, checkLink } from '../core/link.js';
import { linkMessage, receiptMessage } from '../core/signature.js';
import { sha256Hex } from '../core/hash.js';
import type { Actor } from './api-keys.js';
import { LedgerError, refuse } from './errors.js';
import { loadSigners } from './participants.js';
import type { LedgerDeps } from './ports.js';
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
}

const MAX_FIELD_TEXT = 1024;

/** Parse-level checks: the link's shape, its hash, and the disclosures against its digests. */
function prepare(sub: Submission): Prepared {
  let link: Link;
  try {
    link = checkLink(sub.link);
  } catch (e) {
    if (e instanceof VerificationError) refuse('malformed', e.message);
    throw e;
  }
  if (link.tags.some((t) => t.includes('\u0000'))) refuse('malformed', 'link: tags may not contain U+0000');
  const canonical = canonicalJson(link);
  const hash = sha256Hex(canonical);
  const disclosures = sub.private?.disclosures ?? [];
  const digests = new Set(link.digests);
  const covered = new Set<string>();
  const fields = new Set<string>();
  for (const [i, d] of disclosures.entries()) {
    let parsed;
    try {
      parsed = parseDisclosure(d);
    } catch (e) {
      if (e instanceof VerificationError) refuse('disclosure-invalid', `private.disclosures[${i}]: ${e.message}`);
      throw e;
    }
    if (!digests.has(parsed.digest)) refuse('disclosure-invalid', `private.disclosures[${i}] (field "${parsed.field.slice(0, MAX_FIELD_TEXT)}") is not among the link's digests`);
    if (fields.has(parsed.field)) refuse('disclosure-invalid', `field "${parsed.field.slice(0, MAX_FIELD_TEXT)}" is disclosed twice`);
    fields.add(parsed.field);
    covered.add(parsed.digest);
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
  return { link, hash, canonical, signatures: sub.signatures, disclosures };
}

function privateObject(disclosures: string[]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const d of disclosures) {
    const { field, value } = parseDisclosure(d);
    out[field] = value;
  }
  return out;
}

export class Links {
  readonly #deps: LedgerDeps;
  readonly #processes: Processes;

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

    // Already accepted links answer as they did the first time, before any other check.
    const existing = await this.#existing(prepared.map((p) => p.hash));
    const now = this.#deps.now();
    const processes = new Map<string, CompiledProcess>();
    for (const p of prepared) {
      const key = `${p.link.process}@${p.link.processVersion}`;
      if (!processes.has(key)) {
        const c = await this.#processes.compiled(p.link.process, p.link.processVersion);
        if (c) processes.set(key, c);
      }
    }
    const signers = await loadSigners(this.#deps.pool, [...new Set(prepared.flatMap((p) => p.signatures.map((s) => s.signer)))]);
    prepared.forEach((p, i) => {
      if (existing.has(p.hash)) return;
      at(i, () => this.#check(p, processes.get(`${p.link.process}@${p.link.processVersion}`), signers, now));
    });

    const acceptedAt = now.toISOString();
    const results: Acceptance[] = [];
    const client = await this.#deps.pool.connect();
    try {
      await client.query('BEGIN');
      for (const [i, p] of prepared.entries()) {
        const process = processes.get(`${p.link.process}@${p.link.processVersion}`);
        results.push(await this.#store(client, p, process, acceptedAt, now, indexed ? i : undefined));
      }
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
    for (const [i, r] of results.entries()) {
      if (!r.created) continue;
      const l = prepared[i]!.link;
      this.#deps.events.emit({ type: 'link.accepted', linkHash: r.linkHash, process: l.process, mapId: l.mapId, step: l.step, author: l.author, acceptedAt: r.receipt.acceptedAt });
    }
    return results;
  }

  async #existing(hashes: string[]): Promise<Set<string>> {
    const { rows } = await this.#deps.pool.query<{ hash: string }>('SELECT hash FROM links WHERE hash = ANY($1)', [hashes]);
    return new Set(rows.map((r) => r.hash));
  }

  #check(p: Prepared, process: CompiledProcess | undefined, signers: Awaited<ReturnType<typeof loadSigners>>, now: Date): void {
    const { link } = p;
    if (!process) refuse('unknown-process', `process ${link.process} has no version ${link.processVersion}`);
    const step = process.steps.get(link.step);
    if (!step) refuse('unknown-step', `process ${link.process} v${link.processVersion} has no step ${link.step}`);
    if (step.meta && !step.meta(link.meta)) {
      refuse('schema-violation', `meta does not match the schema of step ${link.step}`, { errors: publicErrors(step.meta.errors) });
    }
    if (step.private && !step.private(privateObject(p.disclosures))) {
      refuse('private-schema-violation', `the private data does not match the private schema of step ${link.step}`, {
        errors: publicErrors(step.private.errors),
      });
    }
    const skew = Math.abs(Date.parse(link.createdAt) - now.getTime());
    if (skew > this.#deps.limits.maxClockSkewMs) {
      refuse('clock-skew', `createdAt ${link.createdAt} is ${Math.round(skew / 1000)} s from the service clock; at most ${this.#deps.limits.maxClockSkewMs / 1000} s allowed`);
    }
    const message = linkMessage(p.hash);
    const roles = new Set<string>();
    for (const s of p.signatures) {
      const signer = signers.get(s.signer);
      const key = signer?.keys.get(s.keyId);
      if (!signer || !key) refuse('unknown-key', `participant ${s.signer} has no key ${s.keyId}`);
      if (key.alg !== s.alg) refuse('signature-invalid', `key ${s.signer}/${s.keyId} is ${key.alg}, the signature says ${s.alg}`);
      if (key.revoked_at && key.revoked_at.getTime() <= now.getTime()) refuse('key-revoked', `key ${s.signer}/${s.keyId} was revoked at ${key.revoked_at.toISOString()}`);
      if (key.expires_at && key.expires_at.getTime() <= now.getTime()) refuse('key-expired', `key ${s.signer}/${s.keyId} expired at ${key.expires_at.toISOString()}`);
      if (!this.#deps.verifier.verify(key.alg, fromHex(key.public_key), message, fromHex(s.sig))) {
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

  async #store(client: PoolClient, p: Prepared, process: CompiledProcess | undefined, acceptedAt: string, now: Date, index: number | undefined): Promise<Acceptance> {
    const { link, hash } = p;
    const fail = (code: Parameters<typeof refuse>[0], message: string, details: Record<string, unknown> = {}): never =>
      refuse(code, index === undefined ? message : `links[${index}]: ${message}`, index === undefined ? details : { ...details, index });
    const map = await client.query<{ heads: string[] }>('SELECT heads FROM maps WHERE process = $1 AND map_id = $2 FOR UPDATE', [link.process, link.mapId]);
    const again = await client.query<{ accepted_at: string; receipt_sig: string }>('SELECT accepted_at, receipt_sig FROM links WHERE hash = $1', [hash]);
    if (again.rows[0]) return this.#acceptance(hash, again.rows[0].accepted_at, again.rows[0].receipt_sig, false);
    if (!process) return fail('unknown-process', `process ${link.process} has no version ${link.processVersion}`);
    const step = process.steps.get(link.step)!;

    const refs = [...new Set(link.refs.map((r) => r.linkHash))];
    if (refs.length) {
      const found = await client.query<{ hash: string }>('SELECT hash FROM links WHERE hash = ANY($1)', [refs]);
      const missing = refs.filter((r) => !found.rows.some((f) => f.hash === r));
      if (missing.length) fail('unknown-ref', `refs name links that do not exist: ${missing.join(', ')}`);
    }

    const heads: string[] | undefined = map.rows[0]?.heads;
    if (link.prev.length === 0) {
      if (heads) fail('stale-head', `map ${link.mapId} already exists; name its head in prev`, { heads });
      if (step.definition.after.length > 0) fail('transition-not-allowed', `step ${link.step} cannot start a map; it follows ${step.definition.after.join(' or ')}`);
      const created = await client.query(
        'INSERT INTO maps (process, map_id, heads, links) VALUES ($1, $2, $3, 1) ON CONFLICT DO NOTHING',
        [link.process, link.mapId, [hash]],
      );
      if (created.rowCount !== 1) {
        // Another transaction started this map meanwhile; if it stored this very link, answer as it did.
        const same = await client.query<{ accepted_at: string; receipt_sig: string }>('SELECT accepted_at, receipt_sig FROM links WHERE hash = $1', [hash]);
        if (same.rows[0]) return this.#acceptance(hash, same.rows[0].accepted_at, same.rows[0].receipt_sig, false);
        fail('stale-head', `map ${link.mapId} was started concurrently; name its head in prev`);
      }
    } else {
      if (!heads) return fail('transition-not-allowed', `map ${link.mapId} does not exist; a map starts with "prev": []`);
      const prevRows = await client.query<{ hash: string; step: string; process: string; map_id: string; process_version: number }>(
        'SELECT hash, step, process, map_id, process_version FROM links WHERE hash = ANY($1)',
        [link.prev],
      );
      for (const prev of link.prev) {
        const row = prevRows.rows.find((r) => r.hash === prev);
        if (!row || row.process !== link.process || row.map_id !== link.mapId) fail('transition-not-allowed', `prev ${prev} is not a link of map ${link.mapId}`);
      }
      if (!process.definition.forks) {
        if (link.prev.length !== heads.length || !link.prev.every((h) => heads.includes(h))) {
          fail('stale-head', `prev does not name the current head of map ${link.mapId}`, { heads });
        }
      }
      for (const row of prevRows.rows) {
        if (!step.definition.after.includes(row.step)) {
          fail('transition-not-allowed', `step ${link.step} may not follow ${row.step} (it follows ${step.definition.after.join(', ') || 'nothing: it starts a map'})`);
        }
        if (process.steps.get(row.step)?.definition.final) fail('transition-not-allowed', `no step may follow ${row.step}, which is final`);
      }
      const next = [...heads.filter((h) => !link.prev.includes(h)), hash];
      await client.query('UPDATE maps SET heads = $3, links = links + 1, updated_at = now() WHERE process = $1 AND map_id = $2', [link.process, link.mapId, next]);
    }

    const receiptSig = this.#deps.notary.sign(receiptMessage(hash, acceptedAt));
    const inserted = await client.query<{ seq: string }>(
      `INSERT INTO links (hash, process, process_version, map_id, step, author, created_at, prev, refs, tags, canonical, signatures, accepted_at, accepted_ts, receipt_sig)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING seq`,
      [hash, link.process, link.processVersion, link.mapId, link.step, link.author, link.createdAt, link.prev, refs, link.tags, p.canonical, JSON.stringify(p.signatures), acceptedAt, now, receiptSig],
    );
    // Queue it for sealing in the same transaction: an accepted link is never forgotten.
    await client.query('INSERT INTO unsealed_links (seq, link_hash, accepted_ts) VALUES ($1, $2, $3)', [inserted.rows[0]!.seq, hash, now]);
    if (p.disclosures.length) {
      const box = this.#deps.cipher.encrypt(JSON.stringify(p.disclosures), hash);
      await client.query('INSERT INTO private_data (link_hash, key_id, iv, ciphertext, tag) VALUES ($1, $2, $3, $4, $5)', [hash, this.#deps.cipher.keyId, box.iv, box.ciphertext, box.tag]);
    }
    return this.#acceptance(hash, acceptedAt, receiptSig, true);
  }

  #acceptance(hash: string, acceptedAt: string, sig: string, created: boolean): Acceptance {
    const { keyId, publicKey } = this.#deps.notary;
    return { linkHash: hash, status: 'accepted', created, receipt: { linkHash: hash, acceptedAt, notary: { keyId, alg: 'ed25519', publicKey }, sig } };
  }
}

