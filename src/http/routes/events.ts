// Server-sent events: link.accepted now; block.sealed and anchor.confirmed join with sealing and
// anchoring. Each event carries only public metadata.
import type { FastifyInstance } from 'fastify';
import type { EventBus, Ledger } from '../../ledger/index.js';
import { ALL_ROLES, actorOf } from '../auth.js';

const HEARTBEAT_MS = 15_000;

export function eventRoutes(app: FastifyInstance, bus: EventBus, ledger: Ledger): void {
  app.get('/v1/events', {
    config: { roles: ALL_ROLES },
    schema: { tags: ['events'], summary: 'Live event stream (text/event-stream)' },
  }, async (request, reply) => {
    // A participant hears only about links of processes in which it holds a role.
    const visible = await ledger.queries.visibleProcesses(actorOf(request));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    let id = 0;
    const unsubscribe = bus.subscribe((event) => {
      if (visible && event.type === 'link.accepted' && !visible.includes(event.process)) return;
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
