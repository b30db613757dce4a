import type { FastifyInstance } from 'fastify';
import type { Ledger } from '../../ledger/index.js';
import { refuse } from '../../ledger/errors.js';
import { ADMIN, ALL_ROLES, actorOf } from '../auth.js';
import { name, page } from '../schemas.js';

const tags = ['processes'];
const idParams = { type: 'object', required: ['id'], properties: { id: name } } as const;

export function processRoutes(app: FastifyInstance, ledger: Ledger): void {
  const visible = async (id: string, actor: ReturnType<typeof actorOf>) => {
    const v = await ledger.queries.visibleProcesses(actor);
    if (v && !v.includes(id)) refuse('not-found', `process ${id} does not exist`);
  };

  app.post('/v1/processes', {
    config: { roles: ADMIN },
    schema: { tags, summary: 'Register a process (version 1)', body: { type: 'object', description: 'schemas/process.json' } },
  }, async (request, reply) => reply.code(201).send(await ledger.processes.register(request.body)));

  app.post('/v1/processes/:id/versions', {
    config: { roles: ADMIN },
    schema: { tags, summary: 'Register the next version of a process', params: idParams, body: { type: 'object', description: 'schemas/process.json' } },
  }, async (request, reply) => {
    const { id } = request.params as { id: string };
    return reply.code(201).send(await ledger.processes.register(request.body, id));
  });

  app.get('/v1/processes', {
    config: { roles: ALL_ROLES },
    schema: { tags, summary: 'List processes (latest version of each)', querystring: page },
  }, async (request) => {
    const { limit, cursor } = request.query as { limit: number; cursor?: string };
    const v = await ledger.queries.visibleProcesses(actorOf(request));
    const result = await ledger.processes.list(limit, cursor);
    return v ? { ...result, items: result.items.filter((p) => v.includes(p.id)) } : result;
  });

  app.get('/v1/processes/:id', {
    config: { roles: ALL_ROLES },
    schema: {
      tags,
      summary: 'Get a process (latest version, or ?version=)',
      params: idParams,
      querystring: { type: 'object', properties: { version: { type: 'integer', minimum: 1, maximum: 2147483647 } } },
    },
  }, async (request) => {
    const { id } = request.params as { id: string };
    await visible(id, actorOf(request));
    return ledger.processes.get(id, (request.query as { version?: number }).version);
  });

  app.get('/v1/processes/:id/versions', {
    config: { roles: ALL_ROLES },
    schema: { tags, summary: 'Every version of a process', params: idParams },
  }, async (request) => {
    const { id } = request.params as { id: string };
    await visible(id, actorOf(request));
    return { items: await ledger.processes.versions(id) };
  });
}
