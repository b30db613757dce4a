// The loopback HTTP face of the regtest chain: the Esplora routes the anchoring code uses, answering
// with the shapes (and status codes) electrs gives, plus test-only routes under /regtest/ that a real
// Esplora does not have. Every answer is produced inside a try/catch: bad input is a 400, unknown
// routes a 404, and nothing a client sends can bring the process down.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { RegtestInputError, TxRejected, toHex, type RegtestChain } from './chain.js';

const MAX_BODY_BYTES = 1_000_000; // electrs' MAX_BODY_SIZE

/** Fee estimates in sat/vB for electrs' confirmation targets (a fixed, gently sloping curve). */
function feeEstimates(): Record<string, number> {
  const out: Record<string, number> = {};
  for (let target = 1; target <= 25; target++) out[String(target)] = target <= 2 ? 2.0 : target <= 6 ? 1.5 : 1.2;
  out['144'] = 1.0;
  out['504'] = 1.0;
  out['1008'] = 1.0;
  return out;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(value));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        reject(new HttpError(413, 'Length limit exceeded'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (failed) return;
      const buf = Buffer.concat(chunks);
      const decoded = new TextDecoder('utf-8', { fatal: true });
      try {
        resolve(decoded.decode(buf));
      } catch {
        reject(new HttpError(400, 'invalid utf-8 sequence'));
      }
    });
    req.on('error', (e) => {
      if (!failed) reject(new HttpError(400, e.message));
      failed = true;
    });
  });
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req);
  let value: unknown;
  try {
    value = body.trim() === '' ? {} : JSON.parse(body);
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, 'body must be a JSON object');
  return value as Record<string, unknown>;
}

function parseHash(s: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(s)) throw new HttpError(400, 'Invalid hex string');
  return s.toLowerCase();
}

function parseHeight(s: string): number {
  if (!/^\d{1,15}$/.test(s)) throw new HttpError(400, 'Invalid number');
  return Number(s);
}

function optString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new HttpError(400, `${key} must be a string`);
  return v;
}

function intField(body: Record<string, unknown>, key: string, fallback?: number): number {
  const v = body[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new HttpError(400, `${key} must be an integer`);
  return v;
}

async function route(chain: RegtestChain, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const rawPath = (req.url ?? '/').split('?')[0] as string;
  const p = rawPath.split('/').slice(1);
  const [a, b, c] = p;
  const n = p.length;
  const notFound = (): void => text(res, 404, `endpoint does not exist ${JSON.stringify(rawPath)}`);

  if (method === 'GET') {
    if (n === 3 && a === 'blocks' && b === 'tip' && c === 'height') return text(res, 200, String(chain.tipHeight));
    if (n === 3 && a === 'blocks' && b === 'tip' && c === 'hash') return text(res, 200, chain.tipHash);
    if (n === 2 && a === 'block-height') {
      const hash = chain.blockHashAt(parseHeight(b as string));
      return hash ? text(res, 200, hash) : text(res, 404, 'Block not found');
    }
    if (n === 3 && a === 'block' && c === 'header') {
      const header = chain.blockHeader(parseHash(b as string));
      return header ? text(res, 200, toHex(header)) : text(res, 404, 'Block not found');
    }
    if (n === 3 && a === 'block' && c === 'raw') {
      const raw = chain.blockRaw(parseHash(b as string));
      if (!raw) return text(res, 404, 'Block not found');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(raw);
      return;
    }
    if (n === 3 && a === 'block' && c === 'status') return json(res, 200, chain.blockStatus(parseHash(b as string)));
    if (n === 3 && a === 'tx' && c === 'status') return json(res, 200, chain.txStatus(parseHash(b as string)));
    if (n === 3 && a === 'tx' && c === 'hex') {
      const hex = chain.txHex(parseHash(b as string));
      return hex ? text(res, 200, hex) : text(res, 404, 'Transaction not found');
    }
    if (n === 3 && a === 'tx' && c === 'merkle-proof') {
      const proof = chain.merkleProof(parseHash(b as string));
      return proof ? json(res, 200, proof) : text(res, 404, 'Transaction not found or is unconfirmed');
    }
    if (n === 3 && a === 'address' && c === 'utxo') return json(res, 200, chain.addressUtxos(decodeURIComponent(b as string)));
    if (n === 1 && a === 'fee-estimates') return json(res, 200, feeEstimates());
    return notFound();
  }

  if (method === 'POST') {
    if (n === 1 && a === 'tx') {
      const body = await readBody(req);
      return text(res, 200, chain.submitRawTx(body));
    }
    // ---- test-only routes: nothing a real Esplora serves ----
    if (n === 2 && a === 'regtest' && b === 'mine') {
      const body = await readJson(req);
      return json(res, 200, chain.mine(intField(body, 'blocks', 1), optString(body, 'address')));
    }
    if (n === 2 && a === 'regtest' && b === 'reorg') {
      const body = await readJson(req);
      const dropTxs = body.dropTxs ?? false;
      const includeMempool = body.includeMempool ?? true;
      if (typeof dropTxs !== 'boolean' || typeof includeMempool !== 'boolean') throw new HttpError(400, 'dropTxs and includeMempool must be booleans');
      const address = optString(body, 'address');
      return json(res, 200, chain.reorg(intField(body, 'depth'), { dropTxs, includeMempool, ...(address !== undefined ? { address } : {}) }));
    }
    if (n === 2 && a === 'regtest' && b === 'fund') {
      const body = await readJson(req);
      const address = optString(body, 'address');
      if (address === undefined) throw new HttpError(400, 'address is required');
      const raw = body.sats;
      if (!((typeof raw === 'number' && Number.isSafeInteger(raw)) || (typeof raw === 'string' && /^\d{1,16}$/.test(raw)))) {
        throw new HttpError(400, 'sats must be an integer (number or decimal string)');
      }
      return json(res, 200, chain.fund(address, BigInt(raw)));
    }
    return notFound();
  }

  return notFound();
}

/** An http.Server answering for `chain`; the caller listens (on loopback). */
export function createRegtestServer(chain: RegtestChain, log: (m: string) => void = () => {}): Server {
  const server = createServer((req, res) => {
    route(chain, req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof TxRejected) return text(res, 400, e.rpcText);
      if (e instanceof HttpError) {
        if (e.status === 413) res.setHeader('connection', 'close');
        return text(res, e.status, e.message);
      }
      if (e instanceof RegtestInputError) return text(res, 400, e.message);
      if (e instanceof URIError) return text(res, 400, 'Invalid address encoding');
      log(`regtest: internal error on ${req.method} ${req.url}: ${(e as Error)?.stack ?? String(e)}`);
      return text(res, 500, 'Internal server error');
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  return server;
}
