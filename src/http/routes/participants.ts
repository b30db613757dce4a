import type { FastifyInstance } from 'fastify';
import type { Ledger } from '../../ledger/index.js';
import { refuse } from '../../ledger/errors.js';
import { ADMIN, ALL_ROLES, WRITERS, actorOf } from '../auth.js';
import { keyId, name, newKey, page } from '../schemas.js';

const tags = ['participants'];
const idParams = { type: 'object', required: ['id'], properties: { id: name } } as const;

export function participantRoutes(app: FastifyInstance, ledger: Ledger): void {
  /** An admin, or the participant itself (key rotation and revocation are self-service). */
  const selfOrAdmin = (request: Parameters<typeof actorOf>[0], id: string) => {
    const actor = actorOf(request);
    if (actor.role !== 'admin' && actor.participantId !== id) refuse('forbidden', `only an admin or ${id} itself may change ${id}'s keys`);
  };

  app.post('/v1/participants', {
    config: { roles: ADMIN },
    schema: {
      tags,
      summary: 'Add a participant with roles and (optionally) keys',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'name', 'roles'],
        properties: {
          id: name,
          name: { type: 'string', minLength: 1, maxLength: 200 },
          roles: { type: 'array', maxItems: 64, items: name },
          keys: { type: 'array', maxItems: 16, items: newKey },
        },
      },
    },
  }, async (request, reply) => reply.code(201).send(await ledger.participants.add(request.body as Parameters<Ledger['participants']['add']>[0])));

  app.get('/v1/participants', { config: { roles: ALL_ROLES }, schema: { tags, summary: 'List participants', querystring: page } }, async (request) => {
    const { limit, cursor } = request.query as { limit: number; cursor?: string };
    return ledger.participants.list(limit, cursor);
  });

  app.get('/v1/participants/:id', { config: { roles: ALL_ROLES }, schema: { tags, summary: 'A participant with its keys', params: idParams } }, async (request) =>
    ledger.participants.get((request.params as { id: string }).id),
  );

  app.post('/v1/participants/:id/keys', {
    config: { roles: WRITERS },
    schema: { tags, summary: 'Add (rotate in) a key', params: idParams, body: newKey },
  }, async (request, reply) => {
    const { id } = request.params as { id: string };
    selfOrAdmin(request, id);
    return reply.code(201).send(await ledger.participants.addKey(id, request.body as Parameters<Ledger['participants']['addKey']>[1]));
  });

  app.post('/v1/participants/:id/keys/:keyId/revoke', {
    config: { roles: WRITERS },
    schema: {
      tags,
      summary: 'Revoke a key: links it signs from now on are refused; earlier ones stay valid',
      params: { type: 'object', required: ['id', 'keyId'], properties: { id: name, keyId } },
      description: 'Optional body: {"reason": "…"} (at most 500 characters).',
    },
  }, async (request) => {
    const { id, keyId: key } = request.params as { id: string; keyId: string };
    selfOrAdmin(request, id);
    const body = request.body as unknown;
    const reason = body === undefined || body === null ? undefined : (body as { reason?: unknown }).reason;
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body) || Object.keys(body).some((k) => k !== 'reason'))) {
      refuse('malformed', 'the body may only be {"reason": "…"}');
    }
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > 500)) refuse('malformed', 'reason must be a string of at most 500 characters');
    return ledger.participants.revokeKey(id, key, reason);
  });
}
