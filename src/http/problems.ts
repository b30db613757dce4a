// RFC 9457 problem details. Every error leaves the service as application/problem+json with a
// stable `type` (https://proof-of-process.dev/problems/<code>); 5xx answers carry no detail beyond
// their kind: 500 internal (a bug) or 503 unavailable (the database cannot be used right now).
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { LEDGER_ERRORS, LedgerError, type LedgerCode } from '../ledger/errors.js';
import { BodyError } from './json-body.js';
import { VerificationError } from '../core/errors.js';
import { isDatabaseUnavailable } from '../db/errors.js';

/** Seconds a client should wait before retrying while the database is unavailable. */
export const RETRY_AFTER_S = 1;

export const PROBLEM_BASE = 'https://proof-of-process.dev/problems/';

const TITLES: Partial<Record<LedgerCode | 'internal', string>> = {
  malformed: 'Malformed request',
  unauthenticated: 'Authentication required',
  forbidden: 'Not allowed',
  'not-found': 'Not found',
  'too-large': 'Too large',
  'rate-limited': 'Too many requests',
  conflict: 'Conflict',
  'stale-head': 'Stale head: prev is not the current head of the map',
  unavailable: 'Service unavailable',
  internal: 'Internal error',
};

export function sendProblem(reply: FastifyReply, code: LedgerCode | 'internal', detail: string, extra: Record<string, unknown> = {}): FastifyReply {
  const status = code === 'internal' ? 500 : LEDGER_ERRORS[code];
  (reply.server as { countProblem?: (code: string) => void }).countProblem?.(code);
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: PROBLEM_BASE + code, title: TITLES[code] ?? code.replace(/-/g, ' '), status, detail, ...extra });
}

export function problemsPlugin(app: FastifyInstance, countProblem: (code: string) => void = () => {}): void {
  app.decorate('countProblem', countProblem);
  app.setErrorHandler((error: FastifyError | LedgerError | BodyError, request, reply) => {
    if (error instanceof LedgerError) return sendProblem(reply, error.code, error.message, error.details);
    if (error instanceof BodyError) return sendProblem(reply, 'malformed', error.message);
    // A core check that escaped a use-case (e.g. a definition that is not I-JSON) is the client's input.
    if (error instanceof VerificationError) return sendProblem(reply, 'malformed', error.message);
    const fe = error as FastifyError;
    if (fe.validation) {
      const first = fe.validation[0];
      return sendProblem(reply, 'malformed', `${fe.validationContext ?? 'request'}${first?.instancePath || ''} ${first?.message ?? 'is invalid'}`, {
        errors: fe.validation.slice(0, 10).map((v) => ({ path: v.instancePath || '/', keyword: v.keyword, message: v.message })),
      });
    }
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendProblem(reply, 'too-large', fe.message);
    if (fe.statusCode === 429) return sendProblem(reply, 'rate-limited', fe.message);
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      // Fastify's own 4xx (bad content type, empty body, bad URL encoding, ...): its message is safe.
      const code: LedgerCode =
        fe.statusCode === 413 ? 'too-large' : fe.statusCode === 415 ? 'unsupported-media-type' : fe.statusCode === 404 ? 'not-found' : 'malformed';
      return sendProblem(reply, code, fe.message);
    }
    // The database is down, restarting, paused past the timeouts or out of connections: not a bug,
    // and retrying shortly is the right move (a request in doubt is safe to repeat: appends are
    // idempotent). The pg message names no value, only the condition.
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: { code: fe.code, message: (error as Error).message } }, 'database unavailable');
      reply.header('retry-after', String(RETRY_AFTER_S));
      return sendProblem(reply, 'unavailable', 'the database is unavailable; retry shortly');
    }
    request.log.error({ err: { type: (error as Error).name, code: fe.code, message: (error as Error).message } }, 'unexpected error');
    return sendProblem(reply, 'internal', 'the service could not complete the request');
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, 'not-found', `no route ${request.method} ${request.url.split('?')[0]}`));
}
