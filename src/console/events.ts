// The live event stream (/v1/events, server-sent events). EventSource cannot send an Authorization
// header, so the stream is read with fetch and parsed here (the text/event-stream format: "event:"
// and "data:" lines, a blank line ends an event). One connection per signed-in tab; pages subscribe
// and unsubscribe as they come and go. Reconnects with a capped backoff.
import { authHeaders, session } from './api.js';

export type LiveEvent =
  | { type: 'link.accepted'; linkHash: string; process: string; mapId: string; step: string; author: string; acceptedAt: string }
  | { type: 'block.sealed'; height: number; hash: string; leafCount: number; timestamp: number }
  | { type: 'anchor.confirmed'; height: number; blockHash: string; txid: string; network: string; bitcoinHeight: number };

export type LiveState = 'connecting' | 'live' | 'offline';

const listeners = new Set<(e: LiveEvent) => void>();
const stateListeners = new Set<(s: LiveState) => void>();
let controller: AbortController | null = null;
let state: LiveState = 'offline';

function setState(s: LiveState): void {
  state = s;
  for (const fn of stateListeners) fn(s);
}

export function onEvent(fn: (e: LiveEvent) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function onState(fn: (s: LiveState) => void): () => void {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}

export function stop(): void {
  controller?.abort();
  controller = null;
  setState('offline');
}

export function start(): void {
  if (controller || !session.key()) return;
  const c = new AbortController();
  controller = c;
  void run(c);
}

async function run(c: AbortController): Promise<void> {
  let delay = 1000;
  while (!c.signal.aborted && session.key()) {
    setState('connecting');
    try {
      const res = await fetch('/v1/events', { headers: { accept: 'text/event-stream', ...authHeaders() }, signal: c.signal, cache: 'no-store', credentials: 'omit' });
      if (res.status === 401 || res.status === 403) break;
      if (!res.ok || !res.body) throw new Error(`event stream: ${res.status}`);
      setState('live');
      delay = 1000;
      await read(res.body, c.signal);
    } catch {
      if (c.signal.aborted) return;
    }
    if (c.signal.aborted) return;
    setState('offline');
    await new Promise((r) => window.setTimeout(r, delay));
    delay = Math.min(delay * 2, 30_000);
  }
  if (controller === c) controller = null;
  setState('offline');
}

async function read(body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  signal.addEventListener('abort', () => void reader.cancel().catch(() => {}), { once: true });
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      dispatch(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
  }
}

function dispatch(block: string): void {
  let type = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return;
  try {
    const event = JSON.parse(data.join('\n')) as LiveEvent;
    if (event.type !== type) return;
    for (const fn of listeners) fn(event);
  } catch {
    /* a malformed event is dropped */
  }
}
