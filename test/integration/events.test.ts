// The live event stream across servers (src/ledger/events.ts, migrations/007_events.sql): two apps
// on one database, as two `pop serve` would be. What one server accepts or seals, a client of the
// other hears, once, after its commit and never for work rolled back; what is not an event on the
// channel is left out; a stream whose database session is lost, whose client falls too far behind or
// whose server stops ends; a server that cannot listen answers 503.
import { randomBytes } from 'node:crypto';
import { type Socket, connect } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildApp, type App } from '../../src/http/app.js';
import { type EventStreamOptions, MAX_UNREAD_BYTES } from '../../src/http/routes/events.js';
import { EVENTS_APPLICATION_NAME, EVENTS_CHANNEL, EventBus, parseEvents } from '../../src/ledger/events.js';
import type { LedgerEvent } from '../../src/ledger/ports.js';
import { aesGcmCipher } from '../../src/node/cipher.js';
import { ed25519Notary } from '../../src/node/notary.js';
import { nodeVerifier } from '../../src/node/verifier.js';
import { type EventStream, hear, readEventStream } from '../helpers/events.js';
import { silentRelay } from '../helpers/relay.js';
import { publicKeyFor, secretKeyFrom, toHex } from '../../src/core/index.js';
import { type Party, type TestService, VALID, makeSubmission, startTestService } from '../helpers/service.js';

let svc: TestService; // server A: takes the appends and seals
let b: App & { url: string; logs: string[] }; // server B: its clients listen
const adminKey = () => svc.adminKey;

beforeAll(async () => {
  svc = await startTestService();
  b = await otherApp({ heartbeatMs: 300 });
});
afterAll(async () => {
  await b?.app.close();
  await svc?.close();
});

const order = (mapId: string) => makeSubmission(svc.parties['customer']!, { step: 'order', mapId, ...VALID['order'] });
const linkHashes = (s: EventStream) => s.events.filter((e) => e.event === 'link.accepted').map((e) => e.data['linkHash']);

/** The event streams' listening sessions (by their application_name): their pids. */
async function listeners(): Promise<number[]> {
  const { rows } = await svc.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [EVENTS_APPLICATION_NAME]);
  return rows.map((r) => r.pid);
}
const terminateListeners = () => svc.pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [EVENTS_APPLICATION_NAME]);

/** An event stream over a raw socket that reads nothing after the answer's head. */
async function pausedStream(base: string): Promise<{ socket: Socket }> {
  const socket = connect(Number(new URL(base).port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${adminKey()}\r\n\r\n`);
  const head = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
  expect(head).toMatch(/^HTTP\/1.1 200/);
  socket.pause();
  return { socket };
}

/** About `bytes` of well-formed events on the channel, in notifications of ≈ 7,800 bytes; the last one's linkHash. */
async function flood(bytes: number): Promise<string> {
  const event = JSON.stringify({ type: 'link.accepted', linkHash: '0'.repeat(64), process: 'p', mapId: 'm', step: 's', author: 'a', acceptedAt: 'x' });
  const payload = `[${Array.from({ length: Math.floor(7800 / (event.length + 1)) }, () => event).join(',')}]`;
  // (Each one different: PostgreSQL sends identical notifications of one transaction once.)
  const n = Math.ceil(bytes / payload.length);
  await svc.pool.query(`SELECT pg_notify($1, replace($2, '"linkHash":"${'0'.repeat(64)}"', '"linkHash":"' || lpad(i::text, 64, '0') || '"')) FROM generate_series(1, $3) AS i`, [EVENTS_CHANNEL, payload, n]);
  return String(n).padStart(64, '0');
}

describe('the event stream across servers', () => {
  test("a client of one server hears the other's links and blocks, once each, in commit order", async () => {
    const s = await readEventStream(b.url, adminKey());
    try {
      expect(s.status).toBe(200);
      const subs = Array.from({ length: 6 }, (_, i) => order(`ev-a-${i}`));
      for (const sub of subs.slice(0, 3)) expect((await svc.request('POST', '/v1/links', { body: sub.body })).status).toBe(201);
      // A batch, and a re-post: the re-post is no new link and no event.
      expect((await svc.request('POST', '/v1/links/batch', { body: { links: subs.slice(3).map((x) => x.body) } })).status).toBe(201);
      expect((await svc.request('POST', '/v1/links', { body: subs[0]!.body })).status).toBe(200);
      const sealer = svc.sealer();
      const height = await sealer.sealOnce();
      await s.until((e) => e.event === 'block.sealed' && e.data['height'] === height);
      expect(linkHashes(s)).toEqual(subs.map((x) => x.hash));
      const first = s.events.find((e) => e.event === 'link.accepted')!;
      expect(first.data).toEqual({ type: 'link.accepted', linkHash: subs[0]!.hash, process: 'order-to-cash', mapId: 'ev-a-0', step: 'order', author: 'customer', acceptedAt: expect.any(String) });
      const block = (await svc.request('GET', `/v1/blocks/${height}`)).json as Record<string, unknown>;
      const sealed = s.events.filter((e) => e.event === 'block.sealed');
      expect(sealed).toHaveLength(1);
      expect(sealed[0]!.data).toMatchObject({ type: 'block.sealed', height, leafCount: 6 });
      expect(sealed[0]!.data['hash']).toBe(block['hash']);
      // Public metadata only: the private data of the links never appears.
      expect(JSON.stringify(s.events)).not.toContain('Camille');
      // The acceptance time is the receipt's, to the character.
      const receipt = (await svc.request('GET', `/v1/links/${subs[0]!.hash}`)).json['receipt'] as { acceptedAt: string };
      expect(first.data['acceptedAt']).toBe(receipt.acceptedAt);
    } finally {
      s.close();
    }
  });

  test('a refused batch (all or nothing) is no event: its rows were written, then rolled back', async () => {
    const s = await readEventStream(b.url, adminKey());
    try {
      // The refusal comes from the database, after the first two links' rows were inserted (the
      // second names the first, so the first is written before it is checked): the third starts
      // the same map again, a stale head.
      const first = order('ev-refused');
      const second = makeSubmission(svc.parties['retailer']!, { step: 'confirm', mapId: 'ev-refused', prev: [first.hash], ...VALID['confirm'] });
      const again = order('ev-refused');
      const refused = await svc.request('POST', '/v1/links/batch', { body: { links: [first.body, second.body, again.body] } });
      expect(refused.status, refused.body).toBe(409);
      expect(refused.json['type']).toBe('https://proof-of-process.dev/problems/stale-head');
      const after = order('ev-refused-after');
      expect((await svc.request('POST', '/v1/links', { body: after.body })).status).toBe(201);
      await s.until((e) => e.data['linkHash'] === after.hash);
      expect(linkHashes(s)).toEqual([after.hash]);
    } finally {
      s.close();
    }
  });

  test('a batch of 1,000 links with long map ids: every event, in order, in notifications under 8,000 bytes', async () => {
    const raw = new pg.Client({ connectionString: svc.databaseUrl });
    const payloads: string[] = [];
    raw.on('notification', (n) => void payloads.push(n.payload ?? ''));
    await raw.connect();
    await raw.query(`LISTEN ${EVENTS_CHANNEL}`);
    const s = await readEventStream(b.url, adminKey());
    try {
      const subs = Array.from({ length: 1000 }, (_, i) => order(`${String(i).padStart(4, '0')}-${'m'.repeat(123)}`));
      expect(subs[0]!.body.link.mapId).toHaveLength(128); // the longest a map id may be (schemas/link.json)
      expect((await svc.request('POST', '/v1/links/batch', { body: { links: subs.map((x) => x.body) } })).status).toBe(201);
      await s.until((e) => e.data['linkHash'] === subs[999]!.hash);
      expect(linkHashes(s)).toEqual(subs.map((x) => x.hash));
      await expect.poll(() => payloads.flatMap((p) => parseEvents(p).events).length, { timeout: 15_000 }).toBe(1000);
      expect(payloads.length).toBeGreaterThan(1);
      for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThan(8000);
      expect(payloads.every((p) => parseEvents(p).ignored === 0)).toBe(true);
    } finally {
      s.close();
      await raw.end();
    }
  });

  test('what else is sent on the channel is left out, logged by its size only; the events after it still come', async () => {
    const s = await readEventStream(b.url, adminKey());
    try {
      const logsFrom = b.logs.length;
      await svc.pool.query(`SELECT pg_notify($1, 'not json {secret-1}'), pg_notify($1, '{"type":"link.accepted"}'), pg_notify($1, '[{"type":"link.accepted","linkHash":1},{"type":"nope"},"secret-2"]')`, [EVENTS_CHANNEL]);
      const after = order('ev-garbage-after');
      expect((await svc.request('POST', '/v1/links', { body: after.body })).status).toBe(201);
      await s.until((e) => e.data['linkHash'] === after.hash);
      expect(s.events.map((e) => e.data['linkHash'])).toEqual([after.hash]);
      const lines = b.logs.slice(logsFrom).filter((l) => l.includes('not an event'));
      expect(lines).toHaveLength(3);
      expect(lines.join('')).not.toMatch(/secret/);
    } finally {
      s.close();
    }
  });

  test('a participant hears only links of its processes, from whichever server', async () => {
    await svc.request('POST', '/v1/participants', { body: { id: 'outsider', name: 'Outsider', roles: [], keys: [] } });
    const key = (await svc.request('POST', '/v1/api-keys', { body: { role: 'participant', participantId: 'outsider' } })).json['secret'] as string;
    const outsider = await readEventStream(b.url, key);
    const customer = await readEventStream(b.url, svc.parties['customer']!.apiKey);
    try {
      expect(outsider.status).toBe(200);
      const sub = order('ev-visible');
      expect((await svc.request('POST', '/v1/links', { body: sub.body })).status).toBe(201);
      const height = await svc.sealer().sealOnce();
      await customer.until((e) => e.event === 'block.sealed' && e.data['height'] === height);
      await outsider.until((e) => e.event === 'block.sealed' && e.data['height'] === height);
      expect(linkHashes(customer)).toEqual([sub.hash]);
      expect(linkHashes(outsider)).toEqual([]);
    } finally {
      outsider.close();
      customer.close();
    }
  });

  test('a client that goes away is no subscriber any more', async () => {
    await expect.poll(() => b.events.subscribers, { timeout: 10_000 }).toBe(0); // the earlier tests' streams gone
    const s = await readEventStream(b.url, adminKey());
    expect(b.events.subscribers).toBe(1);
    s.close();
    await expect.poll(() => b.events.subscribers, { timeout: 10_000 }).toBe(0);
  });

  test("an API key revoked while its stream is open ends the stream; a process given to the caller's role meanwhile is heard", async () => {
    const secretKey = secretKeyFrom('ed25519', (n) => new Uint8Array(randomBytes(n)));
    const keys = [{ keyId: 'ev-firm-1', alg: 'ed25519', publicKey: toHex(publicKeyFor('ed25519', secretKey)) }];
    expect((await svc.request('POST', '/v1/participants', { body: { id: 'ev-firm', name: 'A firm', roles: ['ev-firm'], keys } })).status).toBe(201);
    const firm: Party = { id: 'ev-firm', role: 'ev-firm', keyId: 'ev-firm-1', alg: 'ed25519', secretKey, publicKey: keys[0]!.publicKey, apiKey: '' };
    const issued = (await svc.request('POST', '/v1/api-keys', { body: { role: 'participant', participantId: 'ev-firm' } })).json;
    const s = await readEventStream(b.url, issued['secret'] as string);
    expect(s.status).toBe(200);
    // A process in which the firm holds a role, registered while its stream is open: its links are heard.
    const trail = { id: 'ev-trail', title: 'Trail', roles: ['ev-firm'], steps: { note: { authors: ['ev-firm'], signers: [], after: [], meta: { type: 'object' }, private: { type: 'object' } } } };
    expect((await svc.request('POST', '/v1/processes', { body: trail })).status).toBe(201);
    await new Promise((r) => setTimeout(r, 1_000)); // a few of the stream's checks
    const note = makeSubmission(firm, { process: 'ev-trail', step: 'note', mapId: 'ev-note', meta: {} });
    expect((await svc.request('POST', '/v1/links', { body: note.body })).status).toBe(201);
    await s.until((e) => e.data['linkHash'] === note.hash);
    // Revoked: the stream ends (within the key cache's 5 s and a check).
    expect((await svc.request('DELETE', `/v1/api-keys/${issued['id'] as string}`)).status).toBeLessThan(300);
    await s.ended;
  });

  test('the listening session lost: every stream ends (its clients reconnect), and a new stream listens again', async () => {
    const s = await readEventStream(b.url, adminKey());
    const [pid] = await listeners();
    expect(pid).toBeDefined();
    await terminateListeners();
    await s.ended; // the server ended it
    expect(b.events.subscribers).toBe(0);
    expect(b.logs.some((l) => l.includes('the event stream lost its database session'))).toBe(true);
    const again = await readEventStream(b.url, adminKey());
    try {
      const sub = order('ev-after-loss');
      expect((await svc.request('POST', '/v1/links', { body: sub.body })).status).toBe(201);
      await again.until((e) => e.data['linkHash'] === sub.hash);
      expect(await listeners()).not.toContain(pid);
    } finally {
      again.close();
    }
  });

  test('a server that cannot listen answers 503 with a problem, and listens again once it can', async () => {
    // Let the session go, then refuse new connections to the database (the pool keeps its own).
    await terminateListeners();
    await expect.poll(() => listeners(), { timeout: 10_000 }).toEqual([]);
    const lostBefore = b.logs.filter((l) => l.includes('lost its database session')).length;
    const db = (await svc.pool.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
    const admin = new pg.Client({ connectionString: svc.databaseUrl.replace(/\/[^/?]+(\?|$)/, '/postgres$1') });
    await admin.connect();
    try {
      // Warm B's pool: the stream's own check of the caller's processes uses it.
      await fetch(`${b.url}/v1/processes`, { headers: { authorization: `Bearer ${adminKey()}` } });
      await admin.query(`ALTER DATABASE "${db}" ALLOW_CONNECTIONS false`);
      const res = await fetch(`${b.url}/v1/events`, { headers: { authorization: `Bearer ${adminKey()}` } });
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.headers.get('retry-after')).toBe('1');
      expect(((await res.json()) as { type: string }).type).toBe('https://proof-of-process.dev/problems/unavailable');
    } finally {
      await admin.query(`ALTER DATABASE "${db}" ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    const s = await readEventStream(b.url, adminKey());
    try {
      expect(s.status).toBe(200);
      // One session, each event once: nothing left over from the refused tries.
      const sub = order('ev-after-503');
      const marker = order('ev-after-503-marker');
      expect((await svc.request('POST', '/v1/links', { body: sub.body })).status).toBe(201);
      expect((await svc.request('POST', '/v1/links', { body: marker.body })).status).toBe(201);
      await s.until((e) => e.data['linkHash'] === marker.hash);
      expect(linkHashes(s)).toEqual([sub.hash, marker.hash]);
      expect(await listeners()).toHaveLength(1);
      expect(b.logs.filter((l) => l.includes('lost its database session')).length, 'the refused tries are no lost session').toBe(lostBefore);
    } finally {
      s.close();
    }
  });

  test('a client that stops reading is disconnected once it is 4 MiB behind, not buffered without end', async () => {
    const { socket } = await pausedStream(b.url);
    await flood(MAX_UNREAD_BYTES * 8); // enough for the socket's buffers and 4 MiB more, many times over
    await expect.poll(() => b.events.subscribers, { timeout: 20_000 }).toBe(0);
    // The server dropped the connection: reading what reached this side comes to its end, without
    // the empty last chunk of a stream ended in order.
    let tail = '';
    socket.on('data', (d: Buffer) => void (tail = (tail + d.toString('latin1')).slice(-16)));
    socket.resume();
    await new Promise((resolve) => socket.once('close', resolve));
    expect(tail.endsWith('\r\n0\r\n\r\n')).toBe(false);
    socket.destroy();
  });

  test('a server stopping ends its streams, and its close does not wait for their clients', async () => {
    const other = await otherApp();
    const s = await readEventStream(other.url, adminKey());
    expect(s.status).toBe(200);
    await other.app.close();
    await s.ended;
    expect(other.events.subscribers).toBe(0);
  });

  test('a stream ended by a lost session: a client that does not read what is left is dropped after a grace, not kept', async () => {
    // No cut for being behind here, so that the end comes first, with megabytes still to send.
    const other = await otherApp({ maxUnreadBytes: Number.MAX_SAFE_INTEGER });
    try {
      const { socket } = await pausedStream(other.url);
      const heard = await hear(other.events); // after the stream's own subscriber: once it hears the last, the stream has it
      const last = await flood(4 * MAX_UNREAD_BYTES);
      await heard.until((e) => e.type === 'link.accepted' && e.linkHash === last);
      const connections = () => new Promise<number>((resolve) => other.app.server.getConnections((_, n) => resolve(n)));
      expect(await connections()).toBe(1);
      await terminateListeners(); // every server's: this one's streams end
      await expect.poll(() => other.events.subscribers, { timeout: 10_000 }).toBe(0);
      // The client, still paused, reads nothing: the server lets go of the connection after the grace.
      await expect.poll(connections, { timeout: 20_000, interval: 250 }).toBe(0);
      socket.destroy();
    } finally {
      await other.app.close();
    }
  });
});

/** Another server on the database, listening, its log lines kept. */
async function otherApp(eventStream: EventStreamOptions = {}): Promise<App & { url: string; logs: string[] }> {
  const logs: string[] = [];
  const other = await buildApp({
    databaseUrl: svc.databaseUrl,
    notary: ed25519Notary(randomBytes(32)),
    cipher: aesGcmCipher(randomBytes(32)),
    verifier: nodeVerifier,
    limits: { maxClockSkewMs: 300_000, batchMax: 1000, bodyLimitBytes: 8 * 1024 * 1024, rateLimitPerMinute: 1_000_000 },
    logger: { level: 'info', stream: { write: (line: string) => void logs.push(line) } },
    eventStream,
  });
  return { ...other, logs, url: await other.app.listen({ port: 0, host: '127.0.0.1' }) };
}

describe('EventBus', () => {
  test('listens while subscribed, lingers after the last leaves, then ends its session; a subscriber within the linger keeps it', async () => {
    const bus = new EventBus({ databaseUrl: svc.databaseUrl, lingerMs: 300 });
    try {
      const before = await listeners();
      const one = await hear(bus);
      const mine = (await listeners()).filter((p) => !before.includes(p));
      expect(mine).toHaveLength(1);
      one.stop();
      const two = await hear(bus); // within the linger: the same session
      expect((await listeners()).filter((p) => !before.includes(p))).toEqual(mine);
      two.stop();
      await expect.poll(() => listeners(), { timeout: 10_000 }).not.toContain(mine[0]);
      const three = await hear(bus); // and a new one when needed again
      const sub = order('ev-bus');
      expect((await svc.request('POST', '/v1/links', { body: sub.body })).status).toBe(201);
      await three.until((e) => e.type === 'link.accepted' && e.linkHash === sub.hash);
      three.stop();
    } finally {
      await bus.close();
    }
  });

  test('an unreachable database: subscribe rejects and adds nothing, and no session is reported lost; a closed bus refuses and tells its subscribers', async () => {
    const logged: string[] = [];
    const nowhere = new EventBus({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none', timeouts: { connectMs: 1_000, statementMs: 1_000 }, log: (msg) => void logged.push(msg) });
    await expect(nowhere.subscribe({ event: () => {}, lost: () => {} })).rejects.toThrow();
    await expect(nowhere.subscribe({ event: () => {}, lost: () => {} })).rejects.toThrow();
    expect(nowhere.subscribers).toBe(0);
    await new Promise((r) => setTimeout(r, 100)); // any late word of the failed connections
    expect(logged).toEqual([]);
    await nowhere.close();

    const bus = new EventBus({ databaseUrl: svc.databaseUrl });
    const heard = await hear(bus);
    await bus.close();
    expect(heard.lost).toEqual(['the server is stopping']);
    expect(bus.subscribers).toBe(0);
    await expect(bus.subscribe({ event: () => {}, lost: () => {} })).rejects.toThrow('closed');
  });

  test('a session cut off without a word (its packets dropped) is found lost by the ping, and the next subscriber listens afresh', async () => {
    const relay = await silentRelay(svc.databaseUrl);
    const logged: string[] = [];
    const bus = new EventBus({ databaseUrl: relay.url, pingMs: 1_000, log: (msg) => void logged.push(msg) });
    try {
      const heard = await hear(bus);
      relay.freeze();
      await expect.poll(() => heard.lost, { timeout: 10_000 }).toEqual(['the event stream lost its database session']);
      expect(bus.subscribers).toBe(0);
      expect(logged).toContain('the event stream lost its database session; its clients are disconnected');
      relay.thaw();
      const again = await hear(bus);
      const sub = order('ev-ping');
      expect((await svc.request('POST', '/v1/links', { body: sub.body })).status).toBe(201);
      await again.until((e) => e.type === 'link.accepted' && e.linkHash === sub.hash);
      again.stop();
    } finally {
      await bus.close();
      relay.thaw();
      await relay.close();
    }
  });

  test('a subscriber that throws does not keep the others from their events', async () => {
    const bus = new EventBus({ databaseUrl: svc.databaseUrl });
    try {
      await bus.subscribe({ event: () => { throw new Error('boom'); }, lost: () => {} });
      const heard = await hear(bus);
      const sub = order('ev-throw');
      expect((await svc.request('POST', '/v1/links', { body: sub.body })).status).toBe(201);
      const e = await heard.until((x) => x.type === 'link.accepted' && x.linkHash === sub.hash);
      expect(e).toMatchObject({ mapId: 'ev-throw' });
    } finally {
      await bus.close();
    }
  });
});

describe('parseEvents', () => {
  const link: LedgerEvent = { type: 'link.accepted', linkHash: 'a'.repeat(64), process: 'p', mapId: 'm', step: 's', author: 'x', acceptedAt: '2026-01-01T00:00:00Z' };
  const block: LedgerEvent = { type: 'block.sealed', height: 3, hash: 'b'.repeat(64), leafCount: 2, timestamp: 1_700_000_000_000 };
  const anchor: LedgerEvent = { type: 'anchor.confirmed', height: 3, blockHash: 'b'.repeat(64), txid: 'c'.repeat(64), network: 'regtest', bitcoinHeight: 101 };

  test('the three kinds, exactly their fields', () => {
    expect(parseEvents(JSON.stringify([link, block, anchor]))).toEqual({ events: [link, block, anchor], ignored: 0 });
    expect(parseEvents(JSON.stringify([{ ...link, extra: 'dropped' }])).events).toEqual([link]);
  });

  test('anything else is counted, never thrown', () => {
    for (const payload of [undefined, '', 'null', '{}', '"x"', '[', JSON.stringify(link)]) expect(parseEvents(payload)).toEqual({ events: [], ignored: 1 });
    expect(parseEvents(JSON.stringify([null, 1, 'x', { type: 'block.sealed', height: -1, hash: 'h', leafCount: 0, timestamp: 0 }, { ...block, height: 1.5 }, { ...anchor, txid: 7 }, link]))).toEqual({ events: [link], ignored: 6 });
  });
});
