// Serves the web console (built from src/console into dist/console by `npm run build:console`) at
// `/`: index.html and the content-hashed files in assets/, nothing else. Every console response
// carries a strict CSP of its own (the app registers helmet without one):
//
//  - the page: scripts, styles and images from this origin only, no inline code and no eval, fetches
//    to this origin only, no framing, no plugins, and Trusted Types required for script URLs (the
//    console builds its DOM from elements and text, never from HTML strings);
//  - the verifier worker: no network at all (connect-src falls back to 'none'), so a dropped file is
//    verified offline by construction. It alone may eval, because Ajv compiles the protocol's
//    schemas and a bundle's step schemas to functions.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { sendProblem } from './problems.js';

// src/http → ../../dist/console, and dist/http → ../../dist/console: the same folder either way.
const DEFAULT_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));

export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "worker-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  'trusted-types pop-verifier',
].join('; ');

export const WORKER_CSP = ["default-src 'none'", "script-src 'self' 'unsafe-eval'"].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

interface Asset {
  body: Buffer;
  type: string;
  worker: boolean;
}

function load(dir: string): { index: Buffer; assets: Map<string, Asset> } | null {
  const indexPath = join(dir, 'index.html');
  if (!existsSync(indexPath)) return null;
  const assets = new Map<string, Asset>();
  const assetsDir = join(dir, 'assets');
  for (const name of existsSync(assetsDir) ? readdirSync(assetsDir) : []) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    assets.set(name, { body: readFileSync(join(assetsDir, name)), type, worker: name.startsWith('verify-worker-') && name.endsWith('.js') });
  }
  return { index: readFileSync(indexPath), assets };
}

const common = (reply: FastifyReply, csp: string) =>
  reply
    .header('content-security-policy', csp)
    .header('cross-origin-opener-policy', 'same-origin')
    .header('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=(), usb=()');

const consolePlugin: FastifyPluginAsync<{ dir?: string }> = async (app: FastifyInstance, opts) => {
  const built = load(opts.dir ?? DEFAULT_DIR);

  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    if (!built) {
      return reply.code(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store')
        .send('The console is not built: run `npm run build` (or `npm run build:console`). The API is at /v1, documented at /docs.\n');
    }
    return common(reply, PAGE_CSP).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(built.index);
  });

  app.get('/assets/:name', { schema: { hide: true, params: { type: 'object', properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,100}$' } } } } }, async (request, reply) => {
    const asset = built?.assets.get((request.params as { name: string }).name);
    if (!asset) return sendProblem(reply, 'not-found', 'no such console asset');
    // Names carry a content hash: a changed file has a new name, so caching forever is safe.
    return common(reply, asset.worker ? WORKER_CSP : PAGE_CSP)
      .type(asset.type)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .send(asset.body);
  });
};

export default consolePlugin;
