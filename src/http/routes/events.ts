// Server-sent events: link.accepted, block.sealed and anchor.confirmed, from whichever server did the
// work (src/ledger/events.ts). Each event carries only public metadata.
import type { FastifyInstance } from 'fastify';
import type { Ledger } from '../../ledger/index.js';
import { LedgerError } from '../../ledger/errors.js';
import type { EventBus } from '../../ledger/events.js';
import { ALL_ROLES, actorOf } from '../auth.js';
import { RETRY_AFTER_S } from '../problems.js';

const HEARTBEAT_MS = 15_000;
/** A client this far behind in reading is disconnected (it may reconnect) rather than buffered without end. */
export const MAX_UNREAD_BYTES = 4 * 1024 * 1024;

export function eventRoutes(app: FastifyInstance, bus: EventBus, ledger: Ledger): void {
  app.get('/v1/events', {
    config: { roles: ALL_ROLES },
    schema: { tags: ['events'], summary: 'Live event stream (text/event-stream)' },
  }, async (request, reply) => {
    // A participant hears only about links of processes in which it holds a role.
    const visible = await ledger.queries.visibleProcesses(actorOf(request));
    const res = reply.raw;
    let open = false;
    let id = 0;
    let unsubscribe: (() => void) | undefined;
    const end = () => {
      if (!open) return;
      open = false;
      clearInterval(heartbeat);
      unsubscribe?.();
      res.end();
    };
    try {
      // Listening before the stream starts: whatever commits after its first line reaches it.
      unsubscribe = await bus.subscribe({
        event: (event) => {
          if (!open) return;
          if (visible && event.type === 'link.accepted' && !visible.includes(event.process)) return;
          res.write(`id: ${++id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
          if (res.writableLength > MAX_UNREAD_BYTES) end();
        },
        lost: () => end(),
      });
    } catch {
      reply.header('retry-after', String(RETRY_AFTER_S));
      throw new LedgerError('unavailable', 'the event stream cannot listen to the database; retry shortly');
    }
    reply.hijack();
    open = true;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    request.raw.on('close', end);
    res.on('error', end);
    if (request.raw.socket.destroyed) end(); // gone while the subscription was made
  });
}
