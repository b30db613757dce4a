import type { FastifyInstance } from 'fastify';
import type { Ledger } from '../../ledger/index.js';
import { ADMIN } from '../auth.js';
import { name } from '../schemas.js';

export function apiKeyRoutes(app: FastifyInstance, ledger: Ledger): void {
  app.post('/v1/api-keys', {
    config: { roles: ADMIN },
    schema: {
      tags: ['api keys'],
      summary: 'Create an API key; the secret is returned once and stored only as a hash',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['role'],
        properties: {
          role: { enum: ['admin', 'participant', 'auditor', 'regulator'] },
          participantId: name,
          label: { type: 'string', maxLength: 200 },
        },
      },
    },
  }, async (request, reply) => reply.code(201).send(await ledger.apiKeys.create(request.body as Parameters<Ledger['apiKeys']['create']>[0])));

  app.delete('/v1/api-keys/:id', {
    config: { roles: ADMIN },
    schema: { tags: ['api keys'], summary: 'Revoke an API key', params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^key_[0-9a-f]{16}$' } } } },
  }, async (request, reply) => {
    await ledger.apiKeys.revoke((request.params as { id: string }).id);
    return reply.code(204).send();
  });
}
