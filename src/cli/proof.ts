// `pop proof <linkHash>`: fetches a link's pop/proof/v1 (optionally waiting until it is sealed).
import { api } from './client.js';
import { EXIT, UsageError } from './exit.js';
import { writeOutput } from './io.js';

export async function fetchProof(hash: string, opts: { out?: string; wait?: boolean }): Promise<number> {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new UsageError(`${hash} is not a link hash (64 lowercase hex characters)`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { status, body } = await api('GET', `/v1/links/${hash}/proof`);
    if (status === 200) {
      writeOutput(opts.out, JSON.stringify(body, null, 2) + '\n');
      if (opts.out) process.stderr.write(`wrote the proof of ${hash} to ${opts.out}\n`);
      return EXIT.ok;
    }
    if (!opts.wait) {
      process.stderr.write(`pop: ${hash} is accepted but not sealed yet; retry, or pass --wait\n`);
      return EXIT.notChecked;
    }
    if (Date.now() > deadline) throw new UsageError(`${hash} was not sealed within 2 minutes`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
