// Bearer API keys. Every /v1 route declares the roles it admits (route config `roles`); anything
// else is 401 without a valid key and 403 with the wrong role. Health, metrics and docs are open.
//
// The rate limit counts requests per accepted key, so requests with keys nobody issued are bounded
// here instead: each new one costs a database lookup, and a client inventing keys would otherwise
// cost one per request without limit. Past `failuresPerMinute` unknown or revoked keys from one
// client address in a minute, that address gets 429 with Retry-After for any key the service has
// not just seen valid (a key used within the last seconds still works from there). An IPv6 client
// is counted by its /64: one host is usually given a whole /64 and can rotate within it freely.
import { isIPv4, isIPv6 } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor, ApiKeys, Role } from '../ledger/api-keys.js';
import { refuse } from '../ledger/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    /** Roles admitted; undefined = open route (no key needed). */
    roles?: readonly Role[];
  }
}

export const ALL_ROLES: readonly Role[] = ['admin', 'participant', 'auditor', 'regulator'];
export const ADMIN: readonly Role[] = ['admin'];
export const WRITERS: readonly Role[] = ['admin', 'participant'];

/** Client addresses whose failures are counted at most (then the count starts afresh). */
const FAILURE_ADDRESSES_MAX = 10_000;
const WINDOW_MS = 60_000;

/**
 * The client an unknown key is counted against: an IPv4 address as it is (also when IPv4-mapped,
 * `::ffff:192.0.2.1`), an IPv6 address by its first 64 bits (`2001:db8:0:7::/64`, zone dropped).
 */
export function failureKey(ip: string | undefined): string {
  if (!ip) return ''; // a client gone before its request was read has no address any more
  const addr = ip.replace(/%.*$/, '');
  if (!isIPv6(addr)) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  // Expand to eight groups: '::' stands for the missing zero groups; a dotted tail is two groups.
  let text = addr.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

export function authPlugin(app: FastifyInstance, apiKeys: ApiKeys, failuresPerMinute = 600): void {
  const failures = new Map<string, { count: number; resetAt: number }>();
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (request, reply) => {
    const roles = request.routeOptions.config.roles;
    if (roles === undefined) return;
    const secret = bearerSecret(request);
    if (!secret) refuse('unauthenticated', 'send an API key as "Authorization: Bearer <key>"');
    let actor = apiKeys.cached(secret);
    if (!actor) {
      const now = Date.now();
      const client = failureKey(request.ip);
      let seen = failures.get(client);
      if (!seen || seen.resetAt <= now) {
        if (failures.size >= FAILURE_ADDRESSES_MAX) {
          for (const [key, f] of failures) if (f.resetAt <= now) failures.delete(key);
          if (failures.size >= FAILURE_ADDRESSES_MAX) failures.clear();
        }
        seen = { count: 0, resetAt: now + WINDOW_MS };
        failures.set(client, seen);
      }
      if (seen.count >= failuresPerMinute) {
        const retryS = Math.ceil((seen.resetAt - now) / 1000);
        reply.header('retry-after', String(retryS));
        refuse('rate-limited', `more than ${failuresPerMinute} requests a minute with unknown or revoked API keys from this address; retry in ${retryS} s`);
      }
      // Counted before the lookup, so that requests waiting on lookups cannot overshoot; a valid key gives it back.
      seen.count++;
      actor = actor === null ? null : await apiKeys.authenticate(secret);
      if (actor) seen.count--;
    }
    if (!actor) refuse('unauthenticated', 'the API key is unknown or revoked');
    if (!roles.includes(actor.role)) refuse('forbidden', `this route is for ${roles.join(', ')}; the key is ${actor.role}`);
    request.actor = actor;
  });
}

/** The API key the request carries (`Authorization: Bearer <key>`), if it is well-formed. */
export function bearerSecret(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return (header ? /^Bearer ([\x21-\x7e]{16,256})$/i.exec(header) : null)?.[1];
}

export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) refuse('unauthenticated', 'no API key');
  return request.actor;
}
