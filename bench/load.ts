// Load generation from the same machine. Saturation is closed-loop (autocannon: N connections, each
// sends its next request when the last one answered); the latency figures use an open loop of our
// own at a fixed offered rate, each latency measured from the request's scheduled time, so a stall
// of the server shows in the percentiles instead of silently slowing the sender (autocannon's own
// rate option sends each connection's quota in a burst at the start of every second).
import { performance } from 'node:perf_hooks';
import autocannon, { type Request } from 'autocannon';
import type { RawHttp } from './raw-http.js';

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN };
  const s = Float64Array.from(values).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1]! };
}

export interface LoadResult {
  seconds: number;
  statuses: Record<string, number>;
  errors: number;
  latency: Percentiles;
}

export const count = (r: LoadResult, status: number): number => r.statuses[String(status)] ?? 0;

export interface ClosedLoop {
  url: string;
  connections: number;
  seconds: number;
  headers: Record<string, string>;
  method: 'GET' | 'POST';
  path: string | (() => string);
  /** POST: a new body per request; `bodies` bounds how many requests may be sent. */
  bodies?: Buffer[];
  onTick?: (elapsedS: number, responses: number) => void;
}

/** Closed-loop saturation with autocannon; every POST carries a body never sent before. */
export function closedLoop(o: ClosedLoop): Promise<LoadResult & { used: number }> {
  let next = 0;
  const request: Request = {
    method: o.method,
    headers: o.headers,
    setupRequest: (r) => {
      const path = typeof o.path === 'string' ? o.path : o.path();
      return o.bodies ? { ...r, path, body: o.bodies[next++]! } : { ...r, path };
    },
  };
  // Each connection builds its next request ahead: keep that many bodies in reserve.
  const amount = o.bodies ? o.bodies.length - o.connections - 1 : 0;
  if (o.bodies && amount < o.connections) throw new Error(`${o.bodies.length} bodies are not enough for ${o.connections} connections`);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let responses = 0;
    const instance = autocannon(
      { url: o.url, connections: o.connections, timeout: 30, requests: [request], ...(amount ? { amount } : { duration: o.seconds }) },
      (error, result) => {
        clearInterval(ticker);
        clearTimeout(stopper);
        if (error) return reject(error);
        const statuses = Object.fromEntries(Object.entries(result.statusCodeStats).map(([k, v]) => [k, v.count]));
        resolve({
          seconds: (performance.now() - t0) / 1000,
          statuses,
          errors: result.errors + result.timeouts,
          latency: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
          used: next,
        });
      },
    );
    instance.on('response', () => responses++);
    const ticker = setInterval(() => o.onTick?.((performance.now() - t0) / 1000, responses), 250);
    // With `amount` autocannon ignores `duration`: stop it ourselves.
    const stopper = setTimeout(() => instance.stop(), o.seconds * 1000);
  });
}

export interface OpenLoop {
  http: RawHttp;
  path: string;
  bodies: Buffer[];
  rate: number;
  seconds: number;
  /**
   * Seconds sent at the same rate before the measured ones, not counted: the client opens its
   * connections then, as a long-running partner's keep-alive client has long since done.
   */
  warmS?: number;
  onTick?: (elapsedS: number) => void;
}

/**
 * Sends bodies[i] at t0 + i/rate; latency = answer time − scheduled time (open loop). A request
 * refused (not 2xx) or lost counts as infinitely late, so failures cannot flatter the percentiles.
 */
export function openLoop(o: OpenLoop): Promise<LoadResult & { sent: number; firstCounted: number }> {
  const warm = Math.round(o.rate * (o.warmS ?? 0));
  const n = Math.min(o.bodies.length, warm + Math.round(o.rate * o.seconds));
  const requests = o.bodies.slice(0, n).map((b) => o.http.build('POST', o.path, b));
  const interval = 1000 / o.rate;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let sent = 0;
  let done = 0;
  return new Promise((resolve) => {
    const t0 = performance.now();
    const finish = () => {
      if (++done < n) return;
      resolve({ seconds: (performance.now() - t0) / 1000 - (o.warmS ?? 0), statuses, errors, latency: percentiles(latencies), sent, firstCounted: warm });
    };
    let lastTick = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      if (now - lastTick > 250) {
        lastTick = now;
        o.onTick?.((now - t0) / 1000);
      }
      while (sent < n && t0 + sent * interval <= now) {
        const at = t0 + sent * interval;
        const counted = sent >= warm;
        o.http.send(requests[sent++]!).then(
          (r) => {
            if (counted) {
              const key = String(r.status);
              statuses[key] = (statuses[key] ?? 0) + 1;
              // A refusal is no answer in time: it counts as slower than any (p99 = ∞ past 1%).
              latencies.push(r.status >= 200 && r.status < 300 ? performance.now() - at : Infinity);
            }
            finish();
          },
          () => {
            if (counted) {
              errors++;
              latencies.push(Infinity);
            }
            finish();
          },
        );
      }
      if (sent >= n) clearInterval(timer);
    }, 1);
  });
}
