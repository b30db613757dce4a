// A test's subscription to an event bus (src/ledger/events.ts), or to a server's /v1/events over
// HTTP: the events as they come, and a way to wait for one. Events come from the database after
// their commit, in commit order, so once an event is here, every event committed before it is here too.
import type { EventBus, Subscriber } from '../../src/ledger/events.js';
import type { LedgerEvent } from '../../src/ledger/ports.js';

export interface Heard {
  events: LedgerEvent[];
  lost: string[];
  /** The first event (heard already or to come) that matches; rejects after timeoutMs. */
  until(match: (e: LedgerEvent) => boolean, timeoutMs?: number): Promise<LedgerEvent>;
  stop(): void;
}

export async function hear(bus: EventBus): Promise<Heard> {
  const events: LedgerEvent[] = [];
  const lost: string[] = [];
  const waiters = new Set<(e: LedgerEvent) => void>();
  const subscriber: Subscriber = {
    event: (e) => {
      events.push(e);
      for (const w of [...waiters]) w(e);
    },
    lost: (reason) => void lost.push(reason),
  };
  const stop = await bus.subscribe(subscriber);
  return {
    events,
    lost,
    stop,
    until: (match, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const found = events.find(match);
        if (found) return resolve(found);
        // Each new event checked once as it comes.
        const check = (e: LedgerEvent) => {
          if (!match(e)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(e);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching event within ${timeoutMs} ms (heard ${events.length})`));
        }, timeoutMs);
        waiters.add(check);
      }),
  };
}

export interface EventStream {
  status: number;
  headers: Headers;
  events: { event: string; data: Record<string, unknown> }[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  until(match: (e: { event: string; data: Record<string, unknown> }) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

/** An event stream read over HTTP, parsed as it comes. */
export async function readEventStream(base: string, key: string): Promise<EventStream> {
  const controller = new AbortController();
  const res = await fetch(`${base}/v1/events`, { headers: { authorization: `Bearer ${key}` }, signal: controller.signal });
  const events: EventStream['events'] = [];
  const waiters = new Set<() => void>();
  let ended = Promise.resolve();
  if (res.ok && res.body) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    ended = (async () => {
      let text = '';
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
        if (done) return;
        text += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, cut);
          text = text.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
        for (const w of [...waiters]) w();
      }
    })();
  } else await res.body?.cancel();
  return {
    status: res.status,
    headers: res.headers,
    events,
    ended,
    close: () => controller.abort(),
    until: (match, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!events.some(match)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching event within ${timeoutMs} ms (heard ${events.length})`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
}
