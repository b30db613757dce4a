// A test's subscription to an event bus (src/ledger/events.ts): the events as they come, and a way
// to wait for one. Events come from the database after their commit, in commit order, so once an
// event is here, every event committed before it is here too.
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
  const waiters = new Set<() => void>();
  const subscriber: Subscriber = {
    event: (e) => {
      events.push(e);
      for (const w of [...waiters]) w();
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
        const check = () => {
          const found = events.find(match);
          if (!found) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching event within ${timeoutMs} ms (heard ${events.length})`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      }),
  };
}
