// The live event stream's source. Several `pop serve` may share the database (one seals and
// anchors, all accept links), so a server cannot know of its own accord what the others did: the
// database announces every accepted link, sealed block and confirmed anchor itself, as a NOTIFY in
// the transaction that writes it (migrations/007_events.sql). A notification is delivered if and
// only if its transaction commits, in commit order, to every session listening — so each event
// reaches every server's clients exactly once, whichever server did the work, and never for work
// that was rolled back.
//
// A server listens (one session of its own, apart from the pool) only while a client holds its
// event stream open, and for LINGER_MS after the last leaves, so a client that reconnects does not
// cost a new session each time. A subscriber is added once the session listens: what commits after
// that reaches it. When the session is lost (the database restarted, the connection cut) the events
// committed meanwhile cannot be recovered, so every subscriber is told (`lost`) and dropped: the
// event stream ends, and its client reconnects and re-reads what it shows. The session is asked
// every PING_MS whether it is alive, so that one cut off without a word is found lost too.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { CLIENT_SLACK_MS, type DbTimeouts } from '../db/pool.js';
import type { LedgerEvent } from './ports.js';

export const EVENTS_CHANNEL = 'pop_events';
/** The listening session's application_name. */
export const EVENTS_APPLICATION_NAME = 'pop-events';
const LINGER_MS = 30_000;
const PING_MS = 15_000;

export interface Subscriber {
  /** An event, and its JSON (made once for every subscriber). */
  event(event: LedgerEvent, json: string): void;
  /** The session was lost or the bus closed: no more events come; the subscriber is already dropped. */
  lost(reason: string): void;
}

export interface EventBusOptions {
  databaseUrl: string;
  /** The listening session's: the time to connect, and to answer LISTEN. */
  timeouts?: DbTimeouts;
  /** How long the session stays after the last subscriber leaves (default 30 s). */
  lingerMs?: number;
  /** How often the session is asked whether it is alive, and how long it has to answer (default 15 s). */
  pingMs?: number;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

export class EventBus {
  readonly #o: EventBusOptions;
  readonly #subscribers = new Set<Subscriber>();
  /** The session listening, or being opened. */
  #session: Promise<pg.Client> | undefined;
  /** Moves on whenever the session is given up, so that a late word from an old one is ignored. */
  #generation = 0;
  #linger: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: EventBusOptions) {
    this.#o = options;
  }

  get subscribers(): number {
    return this.#subscribers.size;
  }

  /**
   * Adds the subscriber once this server listens to the database's events, and returns what removes
   * it. Rejects, the subscriber not added, when the server cannot listen (the database unreachable).
   */
  async subscribe(subscriber: Subscriber): Promise<() => void> {
    if (this.#closed) throw new Error('the event stream is closed');
    clearTimeout(this.#linger);
    this.#linger = undefined;
    const generation = this.#generation;
    await (this.#session ??= this.#listen(generation));
    if (this.#closed) throw new Error('the event stream is closed');
    if (this.#generation !== generation) throw new Error('the event stream lost its database session');
    this.#subscribers.add(subscriber);
    return () => {
      if (this.#subscribers.delete(subscriber)) this.#idle();
    };
  }

  /** Ends every subscription (each is told) and the session: its goodbye is waited for 2 s at most (a silent database's never comes). */
  async close(): Promise<void> {
    this.#closed = true;
    const session = this.#session;
    this.#drop('the server is stopping');
    const client = await Promise.race([session?.catch(() => undefined), delay(2_000)]);
    if (client) await Promise.race([client.end().catch(() => {}), delay(2_000)]);
  }

  async #listen(generation: number): Promise<pg.Client> {
    const current = () => this.#generation === generation;
    const t = this.#o.timeouts;
    let client: pg.Client;
    try {
      client = new pg.Client({
        connectionString: this.#o.databaseUrl,
        // How an operator tells it apart in pg_stat_activity (docs/api.md, Events).
        application_name: EVENTS_APPLICATION_NAME,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        ...(t ? { connectionTimeoutMillis: t.connectMs, query_timeout: t.connectMs + CLIENT_SLACK_MS } : {}),
      });
    } catch (e) {
      if (current()) this.#session = undefined;
      throw e;
    }
    let listening = false;
    let ping: NodeJS.Timeout | undefined = undefined;
    // Once listening, a session that ends or fails is lost; before, the caller hears it from connect or LISTEN.
    const lost = (e?: Error) => {
      clearInterval(ping);
      if (!listening || !current()) return;
      this.#o.log?.('the event stream lost its database session; its clients are disconnected', e ? { error: e.message } : {});
      this.#drop('the event stream lost its database session');
      void client.end().catch(() => {});
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (n) => {
      if (current() && n.channel === EVENTS_CHANNEL) this.#deliver(n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (e) {
      if (current()) {
        this.#generation++;
        this.#session = undefined;
      }
      await client.end().catch(() => {});
      throw e;
    }
    if (!current()) {
      // Given up while it connected (the bus closed): nobody will end it but this.
      await client.end().catch(() => {});
      throw new Error('the event stream is closed');
    }
    listening = true;
    // A session cut off without a reset (the database's host gone, a failover) says nothing: ask it.
    const pingMs = this.#o.pingMs ?? PING_MS;
    ping = setInterval(() => {
      if (!current()) return clearInterval(ping);
      let timer: NodeJS.Timeout | undefined;
      const silent = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${pingMs} ms`)), pingMs).unref();
      });
      Promise.race([client.query('SELECT 1'), silent]).then(
        () => clearTimeout(timer),
        (e: unknown) => (clearTimeout(timer), lost(e as Error)),
      );
    }, pingMs).unref();
    return client;
  }

  /** Forgets the session (ended by the caller) and tells every subscriber. */
  #drop(reason: string): void {
    this.#generation++;
    this.#session = undefined;
    clearTimeout(this.#linger);
    this.#linger = undefined;
    const subscribers = [...this.#subscribers];
    this.#subscribers.clear();
    for (const s of subscribers) {
      try {
        s.lost(reason);
      } catch (e) {
        this.#o.log?.('an event stream subscriber failed', { error: (e as Error).message });
      }
    }
  }

  /** No subscriber left: the session ends after the linger, unless one comes back. */
  #idle(): void {
    if (this.#subscribers.size || !this.#session || this.#linger) return;
    const session = this.#session;
    this.#linger = setTimeout(() => {
      this.#linger = undefined;
      if (this.#subscribers.size || this.#session !== session) return;
      this.#generation++;
      this.#session = undefined;
      void session.then((c) => c.end()).catch(() => {});
    }, this.#o.lingerMs ?? LINGER_MS).unref();
  }

  #deliver(payload: string | undefined): void {
    const { events, ignored } = parseEvents(payload);
    // The channel is the database's: anything else sent on it is left out (never its content: only its size).
    if (ignored) this.#o.log?.('ignored what was not an event on the event channel', { ignored, bytes: Buffer.byteLength(payload ?? '') });
    for (const event of events) {
      const json = JSON.stringify(event);
      for (const s of this.#subscribers) {
        try {
          s.event(event, json);
        } catch (e) {
          this.#o.log?.('an event stream subscriber failed', { error: (e as Error).message });
        }
      }
    }
  }
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** The events of a notification's payload (a JSON array of them), and how many of its items were not events. */
export function parseEvents(payload: string | undefined): { events: LedgerEvent[]; ignored: number } {
  let items: unknown;
  try {
    items = JSON.parse(payload ?? '');
  } catch {
    return { events: [], ignored: 1 };
  }
  if (!Array.isArray(items)) return { events: [], ignored: 1 };
  const events: LedgerEvent[] = [];
  for (const item of items) {
    const event = asEvent(item);
    if (event) events.push(event);
  }
  return { events, ignored: items.length - events.length };
}

function asEvent(v: unknown): LedgerEvent | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const e = v as Record<string, unknown>;
  switch (e['type']) {
    case 'link.accepted':
      if (![e['linkHash'], e['process'], e['mapId'], e['step'], e['author'], e['acceptedAt']].every(isString)) return undefined;
      return { type: 'link.accepted', linkHash: e['linkHash'] as string, process: e['process'] as string, mapId: e['mapId'] as string, step: e['step'] as string, author: e['author'] as string, acceptedAt: e['acceptedAt'] as string };
    case 'block.sealed':
      if (!isCount(e['height']) || !isString(e['hash']) || !isCount(e['leafCount']) || !isCount(e['timestamp'])) return undefined;
      return { type: 'block.sealed', height: e['height'], hash: e['hash'], leafCount: e['leafCount'], timestamp: e['timestamp'] };
    case 'anchor.confirmed':
      if (!isCount(e['height']) || !isString(e['blockHash']) || !isString(e['txid']) || !isString(e['network']) || !isCount(e['bitcoinHeight'])) return undefined;
      return { type: 'anchor.confirmed', height: e['height'], blockHash: e['blockHash'], txid: e['txid'], network: e['network'], bitcoinHeight: e['bitcoinHeight'] };
    default:
      return undefined;
  }
}

/** Resolves to undefined after ms, without keeping the process alive. */
const delay = (ms: number): Promise<undefined> => sleep(ms, undefined, { ref: false });
