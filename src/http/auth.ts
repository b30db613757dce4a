// Bearer API keys. Every /v1 route declares the roles it admits (route config `roles`); anything
// else is 401 without a valid key and 403 with the wrong role. Health, metrics and docs are open.
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

export function authPlugin(app: FastifyInstance, apiKeys: ApiKeys): void {
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (request) => {
    const roles = request.routeOptions.config.roles;
    if (roles === undefined) return;
    const header = request.headers.authorization;
    const m = header ? /^Bearer ([\x21-\x7e]{16,256})$/i.exec(header) : null;
    if (!m) refuse('unauthenticated', 'send an API key as "Authorization: Bearer <key>"');
    const actor = await apiKeys.authenticate(m[1]!);
    if (!actor) refuse('unauthenticated', 'the API key is unknown or revoked');
    if (!roles.includes(actor.role)) refuse('forbidden', `this route is for ${roles.join(', ')}; the key is ${actor.role}`);
    request.actor = actor;
  });
}

export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) refuse('unauthenticated', 'no API key');
  return request.actor;
}
