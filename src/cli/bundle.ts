// `pop bundle`: downloads a pop/bundle/v1 from the service, streaming it to a file or stdout.
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError, serviceUrl } from './client.js';
import { EXIT, UsageError } from './exit.js';

export async function downloadBundle(opts: { process: string; map?: string; from?: string; to?: string; out?: string }): Promise<number> {
  if ((opts.map === undefined) === (opts.from === undefined || opts.to === undefined)) {
    throw new UsageError('give --map, or --from and --to (RFC 3339 UTC, e.g. 2026-11-01T00:00:00Z)');
  }
  const key = process.env['POP_API_KEY'];
  if (!key) throw new UsageError('set POP_API_KEY to an admin, auditor or regulator key');
  const q = new URLSearchParams({ process: opts.process, ...(opts.map ? { mapId: opts.map } : { from: opts.from!, to: opts.to! }) });
  let res: Response;
  try {
    res = await fetch(`${serviceUrl()}/v1/bundles?${q}`, { headers: { authorization: `Bearer ${key}` } });
  } catch (e) {
    throw new ApiError(`cannot reach the service at ${serviceUrl()}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`, EXIT.unreachable);
  }
  if (!res.ok || !res.body) {
    const text = await res.text();
    let detail = text.slice(0, 300);
    try {
      const p = JSON.parse(text) as { type?: string; detail?: string };
      detail = `${String(p.type).split('/').pop()}: ${p.detail}`;
    } catch {
      /* not a problem document */
    }
    throw new ApiError(`${res.status} ${detail}`, EXIT.refused, res.status);
  }
  const source = Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]);
  let bytes = 0;
  source.on('data', (c: Buffer) => (bytes += c.length));
  await pipeline(source, opts.out ? createWriteStream(opts.out) : process.stdout);
  if (opts.out) process.stderr.write(`wrote ${bytes} bytes to ${opts.out}; check it with: pop verify ${opts.out}\n`);
  return EXIT.ok;
}
