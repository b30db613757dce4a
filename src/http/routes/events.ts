// Server-sent events: link.accepted, block.sealed and anchor.confirmed, from whichever server did the
// work (src/ledger/events.ts). Each event carries only public metadata.
import type { FastifyInstance } from 'fastify';
import type { Ledger } from '../../ledger/index.js';
import { LedgerError } from '../../ledger/errors.js';
import type { EventBus } from '../../ledger/events.js';
import { ALL_ROLES, actorOf, bearerSecret } from '../auth.js';
import { RETRY_AFTER_S } from '../problems.js';

/** A comment line this often keeps proxies from closing an idle stream; the caller's key and processes are checked again as often. */
const HEARTBEAT_MS = 15_000;
/** A client this far behind in reading is disconnected (it may reconnect) rather than buffered without end. */
export const MAX_UNREAD_BYTES = 4 * 1024 * 1024;
/** An ended stream's client has this long to read what is left before its connection is dropped. */
const END_GRACE_MS = 5_000;

export interface EventStreamOptions {
  /** Default 15 s. */
  heartbeatMs?: number;
  /** Default 4 MiB. */
  maxUnreadBytes?: number;
}

export function eventRoutes(app: FastifyInstance, bus: EventBus, ledger: Ledger, o: EventStreamOptions = {}): void {
  const heartbeatMs = o.heartbeatMs ?? HEARTBEAT_MS;
  const maxUnreadBytes = o.maxUnreadBytes ?? MAX_UNREAD_BYTES;
  app.get('/v1/events', {
    config: { roles: ALL_ROLES },
    schema: { tags: ['events'], summary: 'Live event stream (text/event-stream)' },
  }, async (request, reply) => {
    const actor = actorOf(request);
    const secret = bearerSecret(request)!; // the auth hook admitted it
    // A participant hears only about links of processes in which it holds a role.
    let visible = await ledger.queries.visibleProcesses(actor);
    const res = reply.raw;
    let open = false;
    let id = 0;
    let unsubscribe: (() => void) | undefined;
    let heartbeat: NodeJS.Timeout | undefined = undefined;
    // The stream's end: `cut` drops the connection at once (a client too far behind); otherwise what
    // was written is sent first, but a client that does not read it keeps neither the socket nor the
    // server's close waiting for long.
    const end = (cut = false) => {
      if (!open) return;
      open = false;
      clearInterval(heartbeat);
      unsubscribe?.();
      if (cut) return void res.destroy();
      res.end();
      if (res.writableFinished) return;
      const late = setTimeout(() => res.destroy(), END_GRACE_MS).unref();
      res.once('close', () => clearTimeout(late));
    };
    try {
      // Listening before the stream starts: whatever commits after its first line reaches it.
      unsubscribe = await bus.subscribe({
        event: (event, json) => {
          if (!open) return;
          if (visible && event.type === 'link.accepted' && !visible.includes(event.process)) return;
          res.write(`id: ${++id}\nevent: ${event.type}\ndata: ${json}\n\n`);
          if (res.writableLength > maxUnreadBytes) end(true);
        },
        lost: () => end(),
      });
    } catch {
      reply.header('retry-after', String(RETRY_AFTER_S));
      throw new LedgerError('unavailable', 'the event stream cannot listen to the database; retry shortly');
    }
    reply.hijack();
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    open = true;
    // A key revoked while its stream is open ends the stream (as it fails any other request); a
    // role in a process given or taken meanwhile changes what the stream tells.
    heartbeat = setInterval(() => {
      res.write(': keep-alive\n\n');
      ledger.apiKeys.authenticate(secret).then(
        async (now) => {
          if (!now || now.role !== actor.role || now.participantId !== actor.participantId) return end();
          visible = await ledger.queries.visibleProcesses(now);
        },
        () => {}, // the database unavailable: the stream goes on (its session's loss ends it)
      ).catch(() => {});
    }, heartbeatMs).unref();
    res.on('close', () => end());
    res.on('error', () => end(true));
    if (res.destroyed) end(); // gone while the subscription was made
  });
}
