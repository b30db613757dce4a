// Bundles (pop/bundle/v1, protocol.md §10), streamed in constant memory: the links are read a page
// at a time and written as they come (with their inclusion paths cut from one block's stored levels
// at a time); then the blocks, history entries and anchors they need are read and written a page at
// a time too. What is kept until the end is small and bounded by blocks, not links: the heights of
// the blocks met (one number each), the process versions and the signers. A 100,000-link bundle
// never holds 100,000 links in memory, and a range spanning many blocks never holds every block.
//
// A time range is read with queries whose cost does not depend on the planner's estimates (a fresh
// or bulk-loaded table has none): it walks the seals of the blocks the range reaches, in (height,
// leaf) order, a page of seals at a time, and looks each one's link up by hash — linear in the seals
// of those blocks. Ordering the range's links by seal position with LIMIT, as before, let the planner
// read the whole range for every page: quadratic (measured on a fresh 100,000-link database: 0.33 s
// a page, 45–142 s for the bundle on this machine; 5–7 s now, the bytes unchanged).
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { inclusionRanges } from '../core/history.js';
import { canonicalJson } from '../core/jcs.js';
import { utf8 } from '../core/bytes.js';
import type { Actor } from './api-keys.js';
import type { Disclosures } from './disclosures.js';
import { refuse } from './errors.js';
import type { Notary } from './ports.js';
import { type Proofs, linkJson } from './proofs.js';
import type { Queries } from './queries.js';

export type BundleScope = { process: string; mapId: string } | { process: string; from: string; to: string };

/** Links (or seals, for a time range) read per query; blocks and history entries written per chunk. */
const PAGE = 1000;
const BLOCK_PAGE = 64;
/**
 * Text written at a time: short-lived strings below V8's large-object size (128 KiB) die young, so
 * the old generation, and with it the heap's peak between major collections, does not grow with
 * the bundle (measured: a 1.5 MB chunk per page let the heap swell to ~130 MB between collections
 * for a 100,000-link bundle, with ~30 MB live).
 */
const CHUNK_CHARS = 60_000;

interface LinkRow {
  hash: string;
  canonical: string;
  signatures: { signer: string; keyId: string; alg: string; sig: string }[];
  process_version: number;
  height: string;
  leaf_index: number;
}

/** Heights met, ascending, each once: 8 bytes a block, grown by doubling. */
class Heights {
  #a = new Float64Array(64);
  length = 0;
  add(h: number): void {
    if (this.length > 0 && this.#a[this.length - 1] === h) return;
    if (this.length === this.#a.length) {
      const b = new Float64Array(this.#a.length * 2);
      b.set(this.#a);
      this.#a = b;
    }
    this.#a[this.length++] = h;
  }
  at(i: number): number {
    return this.#a[i]!;
  }
}

export class Bundles {
  readonly #pool: Pool;
  readonly #notary: Notary;
  readonly #queries: Queries;
  readonly #proofs: Proofs;
  readonly #disclosures: Disclosures;
  readonly #page: number;

  /** `page`: links (or seals) read per query; tests make it small to cross page boundaries. */
  constructor(pool: Pool, notary: Notary, queries: Queries, proofs: Proofs, disclosures: Disclosures, opts: { page?: number } = {}) {
    this.#page = opts.page ?? PAGE;
    this.#pool = pool;
    this.#notary = notary;
    this.#queries = queries;
    this.#proofs = proofs;
    this.#disclosures = disclosures;
  }

  /** Checks the scope before anything is streamed (a refusal is still a clean problem+json). */
  async check(scope: BundleScope, actor: Actor): Promise<void> {
    const visible = await this.#queries.visibleProcesses(actor);
    const { rowCount } = await this.#pool.query('SELECT 1 FROM processes WHERE id = $1 LIMIT 1', [scope.process]);
    if (!rowCount || (visible && !visible.includes(scope.process))) refuse('not-found', `process ${scope.process} does not exist`);
    if ('mapId' in scope) {
      const map = await this.#pool.query('SELECT 1 FROM maps WHERE process = $1 AND map_id = $2', [scope.process, scope.mapId]);
      if (!map.rowCount) refuse('not-found', `process ${scope.process} has no map ${scope.mapId}`);
    } else if (Date.parse(scope.from) >= Date.parse(scope.to)) refuse('malformed', 'from must be before to');
  }

  /** The scope's sealed links in (height, leaf) order, a page at a time. */
  async *#pages(scope: BundleScope): AsyncGenerator<LinkRow[]> {
    if ('mapId' in scope) {
      // A map's links, found through its index. A map is one workflow instance, small: each page
      // reads all of it (a map of n > PAGE links would cost n/PAGE queries of O(n) each).
      let after: [number, number] = [-1, -1];
      for (;;) {
        const { rows } = await this.#pool.query<LinkRow>(
          `SELECT l.hash, l.canonical, l.signatures, l.process_version, s.height, s.leaf_index
             FROM links l JOIN link_seals s ON s.link_hash = l.hash
            WHERE l.process = $1 AND l.map_id = $2 AND (s.height, s.leaf_index) > ($3, $4)
            ORDER BY s.height, s.leaf_index LIMIT $5`,
          [scope.process, scope.mapId, after[0], after[1], this.#page],
        );
        if (rows.length) yield rows;
        if (rows.length < this.#page) return;
        const last = rows[rows.length - 1]!;
        after = [Number(last.height), last.leaf_index];
      }
    }
    const range = [scope.process, scope.from, scope.to];
    const { rows: [bounds] } = await this.#pool.query<{ lo: string | null; hi: string | null }>(
      `SELECT min(s.height) AS lo, max(s.height) AS hi FROM links l JOIN link_seals s ON s.link_hash = l.hash
        WHERE l.process = $1 AND l.accepted_ts >= $2 AND l.accepted_ts < $3`,
      range,
    );
    if (!bounds || bounds.lo === null || bounds.hi === null) return;
    let after: [number, number] = [Number(bounds.lo), -1];
    for (;;) {
      // A page of seals in index order (MATERIALIZED: scanned once, LIMIT bounds it), then each one's
      // link by hash if it is in scope: LATERAL with LIMIT 1, which the planner cannot flatten into a
      // join, so it is one index probe per seal — never a hash join that reads the whole range.
      const { rows } = await this.#pool.query<LinkRow & { hash: string | null }>(
        `WITH seals AS MATERIALIZED (
           SELECT link_hash, height, leaf_index FROM link_seals
            WHERE (height, leaf_index) > ($4, $5) AND height <= $6
            ORDER BY height, leaf_index LIMIT $7)
         SELECT l.hash, l.canonical, l.signatures, l.process_version, s.height, s.leaf_index
           FROM seals s LEFT JOIN LATERAL (
             SELECT hash, canonical, signatures, process_version FROM links
              WHERE hash = s.link_hash AND process = $1 AND accepted_ts >= $2 AND accepted_ts < $3 LIMIT 1) l ON true
          ORDER BY s.height, s.leaf_index`,
        [...range, after[0], after[1], bounds.hi, this.#page],
      );
      const found = rows.filter((r): r is LinkRow => r.hash !== null);
      if (found.length) yield found;
      if (rows.length < this.#page) return;
      const last = rows[rows.length - 1]!;
      after = [Number(last.height), last.leaf_index];
    }
  }

  /** The bundle as a sequence of JSON text chunks. Only sealed links are in a bundle. */
  async *stream(scope: BundleScope, actor: Actor, now: Date): AsyncGenerator<string> {
    const createdAt = now.toISOString();
    const digest = createHash('sha256').update(`pop:bundle:v1\n${canonicalJson(scope)}\n${createdAt}\n`);
    const heights = new Heights();
    const versions = new Set<number>();
    const signers = new Map<string, Set<string>>();
    const reader = actor.role === 'auditor' || actor.role === 'regulator' ? actor.keyId : undefined;
    const { keyId, publicKey } = this.#notary;

    yield `{"type":"pop/bundle/v1","scope":${JSON.stringify(scope)},"createdAt":${JSON.stringify(createdAt)},"notary":${JSON.stringify({ keyId, alg: 'ed25519', publicKey })},"links":[`;
    let count = 0;
    let levels: { height: number; levels: Buffer[] } | undefined;
    for await (const rows of this.#pages(scope)) {
      const disclosed = reader ? await this.#disclosures.forReaderMany(rows.map((r) => r.hash), reader) : new Map<string, string[]>();
      let chunk = '';
      for (const r of rows) {
        const height = Number(r.height);
        if (levels?.height !== height) levels = { height, levels: await this.#levels(height) };
        const leafCount = levels.levels[0]!.length / 32;
        heights.add(height);
        versions.add(r.process_version);
        for (const s of r.signatures) (signers.get(s.signer) ?? signers.set(s.signer, new Set()).get(s.signer)!).add(s.keyId);
        digest.update(`${r.hash}\n`);
        // JSON.stringify({ linkHash, link, signatures, height, inclusion, disclosures? }), with the
        // stored canonical text spliced in for the link rather than parsed and written again.
        const rest = JSON.stringify({
          signatures: r.signatures,
          height,
          inclusion: { leafIndex: r.leaf_index, treeSize: leafCount, path: auditPath(levels.levels, r.leaf_index) },
          ...(disclosed.has(r.hash) ? { disclosures: disclosed.get(r.hash) } : {}),
        });
        chunk += `${count++ === 0 ? '' : ','}{"linkHash":${JSON.stringify(r.hash)},"link":${linkJson(r.canonical)},${rest.slice(1)}`;
        if (chunk.length >= CHUNK_CHARS) {
          yield chunk;
          chunk = '';
        }
      }
      if (chunk) yield chunk;
    }
    yield '],';

    const processes = await this.#pool.query<{ id: string; version: number; hash: string; definition: unknown }>(
      'SELECT id, version, hash, definition FROM processes WHERE id = $1 AND version = ANY($2) ORDER BY version',
      [scope.process, [...versions]],
    );
    yield `"processes":${JSON.stringify(processes.rows.map((p) => ({ id: p.id, version: p.version, hash: p.hash, definition: p.definition })))},`;

    const participants = await this.#pool.query<{ id: string; roles: string[] }>('SELECT id, roles FROM participants WHERE id = ANY($1) ORDER BY id', [[...signers.keys()]]);
    const keys = await this.#pool.query<{ participant_id: string; key_id: string; alg: string; public_key: string }>(
      'SELECT participant_id, key_id, alg, public_key FROM participant_keys WHERE participant_id = ANY($1) ORDER BY participant_id, key_id',
      [[...signers.keys()]],
    );
    yield `"participants":${JSON.stringify(
      participants.rows.map((p) => ({
        id: p.id,
        roles: p.roles,
        keys: keys.rows
          .filter((k) => k.participant_id === p.id && signers.get(p.id)!.has(k.key_id))
          .map((k) => ({ keyId: k.key_id, alg: k.alg, publicKey: k.public_key })),
      })),
    )},`;

    // Tie each block to the first confirmed anchor at or after it (heights and anchors both ascend).
    const anchors = heights.length
      ? (await this.#pool.query<{ block_height: string }>("SELECT DISTINCT block_height FROM anchors WHERE status = 'confirmed' AND block_height >= $1 ORDER BY block_height", [heights.at(0)])).rows.map((r) => Number(r.block_height))
      : [];
    const anchorOf = (() => {
      let a = 0;
      return (h: number): number | undefined => {
        while (a < anchors.length && anchors[a]! < h) a++;
        return anchors[a];
      };
    })();
    const used = new Set<number>(); // anchored heights some block is tied to
    const anchorFor = new Float64Array(heights.length).fill(-1);
    for (let i = 0; i < heights.length; i++) {
      const a = anchorOf(heights.at(i));
      if (a !== undefined) {
        anchorFor[i] = a;
        used.add(a);
      }
    }

    // Blocks: the links' blocks and the anchored blocks they are tied to, merged in ascending order.
    const targets = [...used].sort((x, y) => x - y);
    yield* this.#array('blocks', mergeAscending(heights, targets), async (page) =>
      (await Promise.all(page.map((h) => this.#proofs.block(h)))).map((b) => JSON.stringify({ header: b.header, notarySig: b.notarySig })),
    );
    yield* this.#array(
      'history',
      (function* () {
        for (let i = 0; i < heights.length; i++) if (anchorFor[i]! > heights.at(i)) yield i;
      })(),
      async (page) => {
        const out: string[] = [];
        for (const i of page) out.push(JSON.stringify({ height: heights.at(i), to: anchorFor[i]!, path: await this.#proofs.historyPath(inclusionRanges(heights.at(i), anchorFor[i]!)) }));
        return out;
      },
    );
    const evidence = await Promise.all(targets.map((a) => this.#proofs.anchorEvidence(a)));
    yield `"anchors":${JSON.stringify(evidence.filter((e) => e !== undefined))},`;

    const digestHex = digest.digest('hex');
    const notarySig = this.#notary.sign(utf8(`pop:bundle:v1:${digestHex}`));
    yield `"manifest":${JSON.stringify({ count, digest: digestHex, notarySig })}}`;
  }

  /** `"name":[…],` written a page of BLOCK_PAGE items at a time, each item rendered to JSON by `render`. */
  async *#array<T>(name: string, items: Iterable<T>, render: (page: T[]) => Promise<string[]>): AsyncGenerator<string> {
    let open = `"${name}":[`;
    let page: T[] = [];
    const flush = async () => {
      const text = (await render(page)).join(',');
      const out = open + text;
      open = ',';
      page = [];
      return out;
    };
    for (const item of items) {
      page.push(item);
      if (page.length === BLOCK_PAGE) yield await flush();
    }
    if (page.length) yield await flush();
    yield open === ',' ? '],' : `"${name}":[],`;
  }

  async #levels(height: number): Promise<Buffer[]> {
    const { rows } = await this.#pool.query<{ hashes: Buffer }>('SELECT hashes FROM block_levels WHERE height = $1 ORDER BY level', [height]);
    return rows.map((r) => r.hashes);
  }
}

/** RFC 6962 audit path from a block's stored levels (merkletreejs layout: odd last nodes carried up). */
export function auditPath(levels: Buffer[], leafIndex: number): string[] {
  const path: string[] = [];
  let index = leafIndex;
  for (let level = 0; level < levels.length - 1; level++) {
    const width = levels[level]!.length / 32;
    const sibling = index ^ 1;
    if (sibling < width) path.push(levels[level]!.subarray(sibling * 32, sibling * 32 + 32).toString('hex'));
    index = Math.floor(index / 2);
  }
  return path;
}

/** The union of two ascending lists of heights (the first without duplicates), ascending, each once. */
function* mergeAscending(a: Heights, b: readonly number[]): Generator<number> {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = i < a.length ? a.at(i) : Infinity;
    const y = j < b.length ? b[j]! : Infinity;
    if (x <= y) {
      i++;
      if (x === y) j++;
      yield x;
    } else {
      j++;
      yield y;
    }
  }
}
