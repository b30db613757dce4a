import type { FastifyInstance } from 'fastify';
import type { Ledger } from '../../ledger/index.js';
import { refuse } from '../../ledger/errors.js';
import { ALL_ROLES, actorOf } from '../auth.js';
import { hash, page } from '../schemas.js';

const tags = ['blocks and proofs'];
const height = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const heightParams = { type: 'object', required: ['height'], properties: { height } } as const;

export function blockRoutes(app: FastifyInstance, ledger: Ledger): void {
  app.get('/v1/notary', { schema: { tags, summary: "The notary's public key (open: verifiers pin it)" } }, async () => ({
    keyId: ledger.deps.notary.keyId,
    alg: 'ed25519',
    publicKey: ledger.deps.notary.publicKey,
  }));

  app.get('/v1/links/:hash/proof', {
    config: { roles: ALL_ROLES },
    schema: { tags, summary: 'The pop/proof/v1 of a sealed link (202 with its status while not sealed yet)', params: { type: 'object', required: ['hash'], properties: { hash } } },
  }, async (request, reply) => {
    const answer = await ledger.proofs.proof((request.params as { hash: string }).hash, actorOf(request));
    // Already JSON text (assembled without a parse and re-serialization of the link).
    if (answer.status === 'sealed') return reply.type('application/json; charset=utf-8').send(answer.json);
    return reply.code(202).header('retry-after', '1').send(answer);
  });

  app.get('/v1/blocks/tip', { config: { roles: ALL_ROLES }, schema: { tags, summary: 'The latest block' } }, async () => {
    const tip = await ledger.proofs.tip();
    if (!tip) refuse('not-found', 'no block has been sealed yet');
    return tip;
  });

  app.get('/v1/blocks', {
    config: { roles: ALL_ROLES },
    schema: {
      tags,
      summary: 'Blocks, newest first (order=desc, the default) or from a height upwards (order=asc&from=)',
      querystring: { type: 'object', additionalProperties: false, properties: { ...page.properties, order: { enum: ['asc', 'desc'], default: 'desc' }, from: height } },
    },
  }, async (request) => {
    const q = request.query as { limit: number; cursor?: string; order: 'asc' | 'desc'; from?: number };
    return ledger.proofs.blocks(q.limit, q.cursor, q.order, q.from);
  });

  app.get('/v1/blocks/:height', { config: { roles: ALL_ROLES }, schema: { tags, summary: 'A block by height', params: heightParams } }, async (request) =>
    ledger.proofs.block((request.params as { height: number }).height),
  );

  app.get('/v1/blocks/:height/links', {
    config: { roles: ALL_ROLES },
    schema: {
      tags,
      summary: "A block's link hashes in leaf order",
      params: heightParams,
      querystring: { type: 'object', additionalProperties: false, properties: { ...page.properties, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 } } },
    },
  }, async (request) => {
    const q = request.query as { limit: number; cursor?: string };
    return ledger.proofs.blockLinks((request.params as { height: number }).height, q.limit, q.cursor);
  });

  app.get('/v1/history/consistency', {
    config: { roles: ALL_ROLES },
    schema: {
      tags,
      summary: 'RFC 6962 consistency proof between two sizes of the history tree (sizes count blocks)',
      querystring: { type: 'object', additionalProperties: false, required: ['from', 'to'], properties: { from: height, to: height } },
    },
  }, async (request) => {
    const q = request.query as { from: number; to: number };
    return ledger.proofs.consistency(q.from, q.to);
  });

  app.get('/v1/anchors', {
    config: { roles: ALL_ROLES },
    schema: { tags: ['anchors'], summary: 'Bitcoin anchors, newest first', querystring: page },
  }, async (request) => {
    const q = request.query as { limit: number; cursor?: string };
    return ledger.proofs.anchors(q.limit, q.cursor);
  });

  app.get('/v1/anchors/status', {
    config: { roles: ALL_ROLES },
    schema: { tags: ['anchors'], summary: 'Anchoring state: network, address, ok | waiting | insufficient-funds | unreachable | rejected, counts, last confirmed, in flight' },
  }, async () => ledger.proofs.anchorStatus());
}
