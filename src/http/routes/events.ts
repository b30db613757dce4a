// Server-sent events: link.accepted now; block.sealed and anchor.confirmed join with sealing and
// anchoring. Each event carries only public metadata.
import type { FastifyInstance } from 'fastify';
import type { EventBus } from '../../ledger/index.js';
import { ALL_ROLES } from '../auth.js';

const HEARTBEAT_MS = 15_000;

export function eventRoutes(app: FastifyInstance, bus: EventBus): void {
  app.get('/v1/events', {
    config: { roles: ALL_ROLES },
    schema: { tags: ['events'], summary: 'Live event stream (text/event-stream)' },
  }, (request, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    let id = 0;
    const unsubscribe = bus.subscribe((event) => {
      res.write(`id: ${++id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    const close = () => {
      clearInterval(heartbeat);
      unsubscribe();
    };
    request.raw.on('close', close);
    res.on('error', close);
  });
}
