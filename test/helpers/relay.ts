// A TCP relay to a database that can go silent (shared by the tests of sessions cut off without a word).
import { type Server, type Socket, connect, createServer } from 'node:net';

/**
 * A TCP relay to the test database that can go silent: frozen, it forwards nothing either way and
 * closes nothing (a server stopped, or a network that drops packets without a reset); thawed, it
 * forwards again, and a side closed meanwhile is closed on the other.
 */
export async function silentRelay(target: string): Promise<{ url: string; freeze(): void; freezeOn(text: string): void; thaw(): void; close(): Promise<void> }> {
  const to = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  let frozen = false;
  let trigger: Buffer | undefined;
  let held: [Socket, Buffer][] = [];
  const freeze = () => {
    frozen = true;
    for (const pair of pairs) for (const side of pair) side.pause();
  };
  const server: Server = createServer((client) => {
    const upstream = connect({ host: to.hostname, port: Number(to.port || 5432) });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    for (const [from, into] of [pair, [upstream, client] as const]) {
      from.on('data', (chunk: Buffer) => {
        if (!frozen && trigger && from === client && chunk.includes(trigger)) {
          trigger = undefined;
          freeze(); // this very message is held: the server never sees it until thawed
        }
        if (frozen) held.push([into, chunk]);
        else into.write(chunk);
      });
      from.on('error', () => {});
      from.on('close', () => {
        if (!frozen) into.destroy();
      });
    }
    if (frozen) for (const side of pair) side.pause();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    freeze,
    /** Freezes when the client next sends a message containing `text` (that message included). */
    freezeOn(text: string) {
      trigger = Buffer.from(text);
    },
    thaw() {
      frozen = false;
      for (const [into, chunk] of held) if (!into.destroyed) into.write(chunk);
      held = [];
      for (const pair of pairs) {
        for (const side of pair) side.resume();
        // A side closed meanwhile: the other gets what was held, then the close.
        if (pair.some((side) => side.destroyed)) for (const side of pair) side.end();
      }
    },
    async close() {
      for (const pair of pairs) for (const side of pair) side.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
