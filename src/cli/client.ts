// The CLI's HTTP client for a running service: POP_URL (default http://127.0.0.1:8080) and
// POP_API_KEY. A problem+json answer becomes a precise message and exit code 4; an unreachable
// service exit code 5.
import { EXIT, UsageError } from './exit.js';

export class ApiError extends Error {
  readonly exitCode: number;
  readonly status: number;
  readonly problem: Record<string, unknown> | undefined;
  constructor(message: string, exitCode: number, status = 0, problem?: Record<string, unknown>) {
    super(message);
    this.name = 'ApiError';
    this.exitCode = exitCode;
    this.status = status;
    this.problem = problem;
  }
}

export function serviceUrl(): string {
  return (process.env['POP_URL'] || 'http://127.0.0.1:8080').replace(/\/+$/, '');
}

export async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown, opts: { auth?: boolean } = {}): Promise<{ status: number; body: T }> {
  const key = process.env['POP_API_KEY'];
  if (opts.auth !== false && !key) throw new UsageError('set POP_API_KEY to an API key of the service (the admin key is printed at its first start)');
  let res: Response;
  try {
    res = await fetch(serviceUrl() + path, {
      method,
      headers: {
        ...(key && opts.auth !== false ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (e) {
    throw new ApiError(`cannot reach the service at ${serviceUrl()} (set POP_URL): ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`, EXIT.unreachable);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const p = (parsed ?? {}) as Record<string, unknown>;
    const type = typeof p['type'] === 'string' ? String(p['type']).split('/').pop() : undefined;
    throw new ApiError(`${res.status}${type ? ` ${type}` : ''}: ${typeof p['detail'] === 'string' ? p['detail'] : text.slice(0, 300) || res.statusText}`, EXIT.refused, res.status, p);
  }
  return { status: res.status, body: parsed as T };
}
