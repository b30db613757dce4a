// A minimal keep-alive HTTP client (node:http) for the parts autocannon cannot do: an open-loop
// offered load at a fixed rate, large batch bodies, and the setup calls.
import { Agent, request } from 'node:http';

export interface Reply {
  status: number;
  body: string;
}

export class Http {
  readonly #base: URL;
  readonly #agent: Agent;
  readonly #auth: string | undefined;

  constructor(base: string, apiKey?: string, maxSockets = 64) {
    this.#base = new URL(base);
    this.#agent = new Agent({ keepAlive: true, maxSockets });
    this.#auth = apiKey && `Bearer ${apiKey}`;
  }

  send(method: string, path: string, body?: Buffer | string, apiKey?: string): Promise<Reply> {
    const auth = apiKey ? `Bearer ${apiKey}` : this.#auth;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.#agent,
          hostname: this.#base.hostname,
          port: this.#base.port,
          method,
          path,
          headers: {
            ...(auth ? { authorization: auth } : {}),
            ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async json<T>(method: string, path: string, body?: unknown, expect: number[] = [200, 201]): Promise<T> {
    const r = await this.send(method, path, body === undefined ? undefined : JSON.stringify(body));
    if (!expect.includes(r.status)) throw new Error(`${method} ${path}: ${r.status} ${r.body.slice(0, 300)}`);
    return JSON.parse(r.body) as T;
  }

  close(): void {
    this.#agent.destroy();
  }
}
