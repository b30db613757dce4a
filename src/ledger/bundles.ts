// Bundles (pop/bundle/v1, protocol.md §10), streamed: the links are read in pages of a thousand
// and written as they come (with their inclusion paths cut from one block's stored levels at a time),
// and only the small sets they refer to — blocks, process versions, signers — are kept until the
// end, where the shared parts and the notary-signed manifest follow. A 100,000-link bundle never
// holds 100,000 links in memory.
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { inclusionRanges } from '../core/history.js';
import { canonicalJson } from '../core/jcs.js';
import { utf8 } from '../core/bytes.js';
import type { Actor } from './api-keys.js';
import type { Disclosures } from './disclosures.js';
import { refuse } from './errors.js';
import type { Notary } from './ports.js';
import type { Proofs } from './proofs.js';
import type { Queries } from './queries.js';

export type BundleScope = { process: string; mapId: string } | { process: string; from: string; to: string };

const PAGE = 1000;

interface LinkRow {
  hash: string;
  canonical: string;
  signatures: { signer: string; keyId: string; alg: string; sig: string }[];
  process_version: number;
  height: string;
  leaf_index: number;
}

export class Bundles {
  readonly #pool: Pool;
  readonly #notary: Notary;
  readonly #queries: Queries;
  readonly #proofs: Proofs;
  readonly #disclosures: Disclosures;

  constructor(pool: Pool, notary: Notary, queries: Queries, proofs: Proofs, disclosures: Disclosures) {
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

  /** The bundle as a sequence of JSON text chunks. Only sealed links are in a bundle. */
  async *stream(scope: BundleScope, actor: Actor, now: Date): AsyncGenerator<string> {
    const createdAt = now.toISOString();
    const digest = createHash('sha256').update(`pop:bundle:v1\n${canonicalJson(scope)}\n${createdAt}\n`);
    const heights = new Set<number>();
    const versions = new Set<number>();
    const signers = new Map<string, Set<string>>();
    const reader = actor.role === 'auditor' || actor.role === 'regulator' ? actor.keyId : undefined;
    const { keyId, publicKey } = this.#notary;

    yield `{"type":"pop/bundle/v1","scope":${JSON.stringify(scope)},"createdAt":${JSON.stringify(createdAt)},"notary":${JSON.stringify({ keyId, alg: 'ed25519', publicKey })},"links":[`;
    let count = 0;
    let after: [number, number] = [-1, -1];
    let levels: { height: number; levels: Buffer[] } | undefined;
    for (;;) {
      const { rows } = await this.#pool.query<LinkRow>(
        `SELECT l.hash, l.canonical, l.signatures, l.process_version, s.height, s.leaf_index
           FROM link_seals s JOIN links l ON l.hash = s.link_hash
          WHERE l.process = $1 AND ${'mapId' in scope ? 'l.map_id = $2' : 'l.accepted_ts >= $2 AND l.accepted_ts < $5'}
            AND (s.height, s.leaf_index) > ($3, $4)
          ORDER BY s.height, s.leaf_index LIMIT ${PAGE}`,
        'mapId' in scope ? [scope.process, scope.mapId, after[0], after[1]] : [scope.process, scope.from, after[0], after[1], scope.to],
      );
      if (rows.length === 0) break;
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
        const entry = {
          linkHash: r.hash,
          link: JSON.parse(r.canonical) as unknown,
          signatures: r.signatures,
          height,
          inclusion: { leafIndex: r.leaf_index, treeSize: leafCount, path: auditPath(levels.levels, r.leaf_index) },
          ...(disclosed.has(r.hash) ? { disclosures: disclosed.get(r.hash) } : {}),
        };
        chunk += (count++ === 0 ? '' : ',') + JSON.stringify(entry);
        after = [height, r.leaf_index];
      }
      yield chunk;
      if (rows.length < PAGE) break;
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

    // Tie each block to the first confirmed anchor at or after it.
    const anchored = new Map<number, number>(); // block height → anchored block height
    const anchorRows = heights.size
      ? (await this.#pool.query<{ block_height: string }>("SELECT DISTINCT block_height FROM anchors WHERE status = 'confirmed' AND block_height >= $1 ORDER BY block_height", [Math.min(...heights)])).rows.map((r) => Number(r.block_height))
      : [];
    for (const h of heights) {
      const a = anchorRows.find((x) => x >= h);
      if (a !== undefined) anchored.set(h, a);
    }
    const allHeights = [...new Set([...heights, ...anchored.values()])].sort((a, b) => a - b);
    const blocks = await Promise.all(allHeights.map((h) => this.#proofs.block(h)));
    yield `"blocks":${JSON.stringify(blocks.map((b) => ({ header: b.header, notarySig: b.notarySig })))},`;
    const history = [];
    for (const [h, a] of [...anchored].sort((x, y) => x[0] - y[0])) {
      if (a > h) history.push({ height: h, to: a, path: await this.#proofs.historyPath(inclusionRanges(h, a)) });
    }
    yield `"history":${JSON.stringify(history)},`;
    const evidence = await Promise.all([...new Set(anchored.values())].sort((a, b) => a - b).map((a) => this.#proofs.anchorEvidence(a)));
    yield `"anchors":${JSON.stringify(evidence.filter((e) => e !== undefined))},`;

    const digestHex = digest.digest('hex');
    const notarySig = this.#notary.sign(utf8(`pop:bundle:v1:${digestHex}`));
    yield `"manifest":${JSON.stringify({ count, digest: digestHex, notarySig })}}`;
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
