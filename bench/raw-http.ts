// The open loop's client: HTTP/1.1 keep-alive over plain sockets, each request written as one
// prebuilt buffer and each answer read only as far as its status and length. node:http's client
// cost the load generator ≈ 170 µs of CPU per request, on the same two cores as the service and
// PostgreSQL: at half the ceiling that was a sixth of the machine, taken from what is measured.
// One request at a time per connection (no pipelining); a new connection when none is idle.
import { type Socket, connect } from 'node:net';

export interface RawReply {
  status: number;
}

interface Conn {
  socket: Socket;
  /** The request in flight on this connection. */
  current: { resolve: (r: RawReply) => void; reject: (e: Error) => void } | undefined;
  reader: ReplyReader;
}

/**
 * Reads HTTP/1.1 responses from a byte stream: status line, headers, then a body of
 * Content-Length bytes or chunked. Calls `onReply` once per complete response.
 */
export class ReplyReader {
  #buf: Buffer = Buffer.alloc(0);
  readonly #onReply: (r: RawReply) => void;

  constructor(onReply: (r: RawReply) => void) {
    this.#onReply = onReply;
  }

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    for (;;) {
      const end = this.#buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.#buf.toString('latin1', 0, end);
      const status = Number(head.slice(9, 12));
      if (!Number.isInteger(status) || !head.startsWith('HTTP/1.1 ')) throw new Error(`not an HTTP/1.1 response: ${JSON.stringify(head.slice(0, 40))}`);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      let total: number;
      if (length) total = end + 4 + Number(length[1]);
      else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
        const last = this.#buf.indexOf('\r\n0\r\n\r\n', end + 2);
        if (last < 0) return;
        total = last + 7;
      } else total = end + 4; // no body (204, 304)
      if (this.#buf.length < total) return;
      this.#buf = this.#buf.subarray(total);
      this.#onReply({ status });
    }
  }
}

export class RawHttp {
  readonly #host: string;
  readonly #port: number;
  readonly #idle: Conn[] = [];
  readonly #all = new Set<Conn>();
  readonly #head: string;

  /** Without an API key the requests carry no Authorization header (the bare route has no auth). */
  constructor(base: string, apiKey?: string) {
    const url = new URL(base);
    this.#host = url.hostname;
    this.#port = Number(url.port);
    this.#head = `Host: ${url.host}\r\n${apiKey === undefined ? '' : `Authorization: Bearer ${apiKey}\r\n`}Content-Type: application/json\r\n`;
  }

  /** One request, built whole: send it with `send`. */
  build(method: string, path: string, body: Buffer): Buffer {
    return Buffer.concat([Buffer.from(`${method} ${path} HTTP/1.1\r\n${this.#head}Content-Length: ${body.length}\r\n\r\n`, 'latin1'), body]);
  }

  send(request: Buffer): Promise<RawReply> {
    return new Promise((resolve, reject) => {
      const conn = this.#idle.pop() ?? this.#open();
      conn.current = { resolve, reject };
      conn.socket.write(request);
    });
  }

  close(): void {
    for (const c of this.#all) c.socket.destroy();
    this.#all.clear();
    this.#idle.length = 0;
  }

  #open(): Conn {
    const socket = connect({ host: this.#host, port: this.#port, noDelay: true });
    const conn: Conn = {
      socket,
      current: undefined,
      reader: new ReplyReader((r) => {
        const current = conn.current;
        conn.current = undefined;
        this.#idle.push(conn);
        current?.resolve(r);
      }),
    };
    const fail = (e: Error) => {
      this.#all.delete(conn);
      const i = this.#idle.indexOf(conn);
      if (i >= 0) this.#idle.splice(i, 1);
      conn.current?.reject(e);
      conn.current = undefined;
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        conn.reader.push(chunk);
      } catch (e) {
        socket.destroy();
        fail(e as Error);
      }
    });
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the connection closed')));
    this.#all.add(conn);
    return conn;
  }
}
