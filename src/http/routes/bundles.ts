import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { BundleScope } from '../../ledger/bundles.js';
import { isStorableInstant, refuse } from '../../ledger/errors.js';
import type { Ledger } from '../../ledger/index.js';
import { type Role } from '../../ledger/api-keys.js';
import { WRITERS, ALL_ROLES, actorOf } from '../auth.js';
import { hash, mapId, name, timestamp } from '../schemas.js';

const READERS: readonly Role[] = ['admin', 'auditor', 'regulator'];
const hashParams = { type: 'object', required: ['hash'], properties: { hash } } as const;
const grantBody = {
  type: 'object',
  additionalProperties: false,
  required: ['reader', 'fields'],
  properties: {
    reader: { type: 'string', pattern: '^key_[0-9a-f]{16}$', description: "the reader's API key id (an auditor or regulator key)" },
    fields: { type: 'array', minItems: 1, maxItems: 256, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 1024 } },
  },
} as const;

export function bundleRoutes(app: FastifyInstance, ledger: Ledger): void {
  app.get('/v1/bundles', {
    config: { roles: READERS },
    schema: {
      tags: ['bundles'],
      summary: 'A pop/bundle/v1 of every sealed link of a map (?process&mapId) or of a process over a time range (?process&from&to), streamed',
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['process'],
        properties: { process: name, mapId, from: timestamp, to: timestamp },
      },
    },
  }, async (request, reply) => {
    const q = request.query as { process: string; mapId?: string; from?: string; to?: string };
    let scope: BundleScope;
    if (q.mapId !== undefined && q.from === undefined && q.to === undefined) scope = { process: q.process, mapId: q.mapId };
    else if (q.mapId === undefined && q.from !== undefined && q.to !== undefined) {
      if (!isStorableInstant(q.from) || !isStorableInstant(q.to)) refuse('malformed', 'from and to must be real instants');
      scope = { process: q.process, from: q.from, to: q.to };
    } else refuse('malformed', 'give either mapId, or from and to');
    const actor = actorOf(request);
    await ledger.bundles.check(scope, actor);
    // createdAt is the tip block's time: the bundle is complete as of that block, and the same data
    // gives the same bytes (an erasure, say, changes nothing in it).
    const tip = await ledger.proofs.tip();
    // One chunk (~60 KB of JSON, ledger/bundles.ts) is read ahead at most: the generator runs only as
    // fast as the client reads (Readable.from's default would buffer 16 chunks before pausing it).
    const stream = Readable.from(ledger.bundles.stream(scope, actor, tip ? new Date(tip.timestamp) : ledger.deps.now()), { highWaterMark: 1 });
    // A failure after the first byte cannot become a problem document: the connection is cut, and
    // the truncated JSON does not parse, so nothing incomplete passes for a bundle.
    stream.on('error', (e) => request.log.error({ err: { message: e.message } }, 'bundle stream failed'));
    return reply.type('application/json').header('cache-control', 'no-store').send(stream);
  });

  app.post('/v1/links/:hash/disclosures', {
    config: { roles: WRITERS },
    schema: { tags: ['disclosure'], summary: "Disclose named private fields of a link to a reader's key (admin or the link's author)", params: hashParams, body: grantBody },
  }, async (request, reply) => {
    const body = request.body as { reader: string; fields: string[] };
    return reply.code(201).send(await ledger.disclosures.grant((request.params as { hash: string }).hash, body.reader, body.fields, actorOf(request)));
  });

  app.post('/v1/maps/:process/:mapId/disclosures', {
    config: { roles: WRITERS },
    schema: {
      tags: ['disclosure'],
      summary: 'Disclose named private fields of every link of a map (that has them) to a reader',
      params: { type: 'object', required: ['process', 'mapId'], properties: { process: name, mapId } },
      body: grantBody,
    },
  }, async (request, reply) => {
    const { process, mapId: id } = request.params as { process: string; mapId: string };
    const body = request.body as { reader: string; fields: string[] };
    return reply.code(201).send(await ledger.disclosures.grantMap(process, id, body.reader, body.fields, actorOf(request)));
  });

  app.get('/v1/links/:hash/disclosures', {
    config: { roles: ALL_ROLES },
    schema: { tags: ['disclosure'], summary: 'The disclosures of a link this caller may see (410 after erasure)', params: hashParams },
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    return ledger.disclosures.forReader((request.params as { hash: string }).hash, actorOf(request));
  });

  app.delete('/v1/links/:hash/data', {
    config: { roles: WRITERS },
    schema: {
      tags: ['disclosure'],
      summary: "Erase a link's private data and salts (admin or author; a reason is required); proofs and bundles are unchanged",
      params: hashParams,
      body: { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'string', minLength: 1, maxLength: 1000 } } },
    },
  }, async (request) => ledger.disclosures.erase((request.params as { hash: string }).hash, (request.body as { reason: string }).reason, actorOf(request)));
}
