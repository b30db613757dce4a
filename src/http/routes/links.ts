import type { FastifyInstance } from 'fastify';
import type { Ledger } from '../../ledger/index.js';
import type { Submission } from '../../ledger/links.js';
import type { LinkFilters } from '../../ledger/queries.js';
import { ALL_ROLES, WRITERS, actorOf } from '../auth.js';
import { isStorableInstant, refuse } from '../../ledger/errors.js';
import { hash, mapId, name, page, submission, timestamp } from '../schemas.js';

const tags = ['links'];
const hashParams = { type: 'object', required: ['hash'], properties: { hash } } as const;

export function linkRoutes(app: FastifyInstance, ledger: Ledger, batchMax: number): void {
  app.post('/v1/links', {
    config: { roles: WRITERS },
    schema: {
      tags,
      summary: 'Append one signed link; answers with the notary receipt (201, or 200 for an identical re-post)',
      body: submission,
    },
  }, async (request, reply) => {
    const accepted = await ledger.links.submit(request.body as Submission, actorOf(request));
    return reply.code(accepted.created ? 201 : 200).send(accepted);
  });

  app.post('/v1/links/batch', {
    config: { roles: WRITERS },
    schema: {
      tags,
      summary: `Append up to ${batchMax} links, all or nothing (a failure names the index)`,
      body: { type: 'object', additionalProperties: false, required: ['links'], properties: { links: { type: 'array', minItems: 1, maxItems: batchMax, items: submission } } },
    },
  }, async (request, reply) => {
    const results = await ledger.links.submitBatch((request.body as { links: Submission[] }).links, actorOf(request));
    return reply.code(results.some((r) => r.created) ? 201 : 200).send({ items: results });
  });

  app.get('/v1/links', {
    config: { roles: ALL_ROLES },
    schema: {
      tags,
      summary: 'Search links (acceptance order), with cursor pagination',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ...page.properties,
          process: name,
          mapId,
          step: name,
          author: name,
          tag: { type: 'array', maxItems: 8, items: { type: 'string', minLength: 1, maxLength: 64 } },
          prev: hash,
          ref: hash,
          from: timestamp,
          to: timestamp,
        },
      },
    },
  }, async (request) => {
    const q = request.query as LinkFilters & { limit: number; cursor?: string; tag?: string[] };
    const { limit, cursor, tag, ...filters } = q;
    for (const [k, v] of [['from', q.from], ['to', q.to]] as const) {
      if (v !== undefined && !isStorableInstant(v)) refuse('malformed', `${k}=${v} is not a real instant`);
    }
    return ledger.queries.search({ ...filters, ...(tag ? { tags: tag } : {}) }, limit, cursor, actorOf(request));
  });

  app.get('/v1/links/:hash', { config: { roles: ALL_ROLES }, schema: { tags, summary: 'A link: public part, signatures, status, receipt', params: hashParams } }, async (request) =>
    ledger.queries.link((request.params as { hash: string }).hash, actorOf(request)),
  );

  app.get('/v1/links/:hash/private', {
    config: { roles: WRITERS },
    schema: { tags, summary: "The link's private data and its disclosures (admin or the link's author)", params: hashParams },
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    return ledger.queries.privateData((request.params as { hash: string }).hash, actorOf(request));
  });

  app.get('/v1/maps', {
    config: { roles: ALL_ROLES },
    schema: { tags: ['maps'], summary: 'List maps', querystring: { type: 'object', additionalProperties: false, properties: { ...page.properties, process: name } } },
  }, async (request) => {
    const { limit, cursor, process } = request.query as { limit: number; cursor?: string; process?: string };
    return ledger.queries.maps(process, limit, cursor, actorOf(request));
  });

  app.get('/v1/maps/:process/:mapId', {
    config: { roles: ALL_ROLES },
    schema: {
      tags: ['maps'],
      summary: 'A map with its links in order',
      params: { type: 'object', required: ['process', 'mapId'], properties: { process: name, mapId } },
      querystring: page,
    },
  }, async (request) => {
    const { process, mapId: id } = request.params as { process: string; mapId: string };
    const { limit, cursor } = request.query as { limit: number; cursor?: string };
    return ledger.queries.map(process, id, limit, cursor, actorOf(request));
  });
}
