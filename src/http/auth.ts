// Bearer API keys. Every /v1 route declares the roles it admits (route config `roles`); anything
// else is 401 without a valid key and 403 with the wrong role. Health, metrics and docs are open.
//
// The rate limit counts requests per accepted key, so requests with keys nobody issued are bounded
// here instead: each new one costs a database lookup, and a client inventing keys would otherwise
// cost one per request without limit. Past `failuresPerMinute` unknown or revoked keys from one
// client address in a minute, that address gets 429 with Retry-After for any key the service has
// not just seen valid (a key used within the last seconds still works from there).
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

export function authPlugin(app: FastifyInstance, apiKeys: ApiKeys, failuresPerMinute = 600): void {
  const failures = new Map<string, { count: number; resetAt: number }>();
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (request, reply) => {
    const roles = request.routeOptions.config.roles;
    if (roles === undefined) return;
    const header = request.headers.authorization;
    const m = header ? /^Bearer ([\x21-\x7e]{16,256})$/i.exec(header) : null;
    if (!m) refuse('unauthenticated', 'send an API key as "Authorization: Bearer <key>"');
    let actor = apiKeys.cached(m[1]!);
    if (!actor) {
      const now = Date.now();
      let seen = failures.get(request.ip);
      if (!seen || seen.resetAt <= now) {
        if (failures.size >= FAILURE_ADDRESSES_MAX) {
          for (const [ip, f] of failures) if (f.resetAt <= now) failures.delete(ip);
          if (failures.size >= FAILURE_ADDRESSES_MAX) failures.clear();
        }
        seen = { count: 0, resetAt: now + WINDOW_MS };
        failures.set(request.ip, seen);
      }
      if (seen.count >= failuresPerMinute) {
        const retryS = Math.ceil((seen.resetAt - now) / 1000);
        reply.header('retry-after', String(retryS));
        refuse('rate-limited', `more than ${failuresPerMinute} requests a minute with unknown or revoked API keys from this address; retry in ${retryS} s`);
      }
      // Counted before the lookup, so that requests waiting on lookups cannot overshoot; a valid key gives it back.
      seen.count++;
      actor = actor === null ? null : await apiKeys.authenticate(m[1]!);
      if (actor) seen.count--;
    }
    if (!actor) refuse('unauthenticated', 'the API key is unknown or revoked');
    if (!roles.includes(actor.role)) refuse('forbidden', `this route is for ${roles.join(', ')}; the key is ${actor.role}`);
    request.actor = actor;
  });
}

export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) refuse('unauthenticated', 'no API key');
  return request.actor;
}
