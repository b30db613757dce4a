// The `pop` command line. Each command is a thin wrapper over core; errors become a precise message
// on stderr and a documented exit code (src/cli/exit.ts), never a stack trace.
//
// Only commander and the error types load up front: each command imports what it needs when it
// runs (a dynamic import per action), so `pop --version` or `pop verify` do not pay for the
// service (Fastify, pg, embedded PostgreSQL), the noble curves or Ajv they do not use.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { VerificationError } from '../core/errors.js';
import { EXIT, UsageError, exitCodeFor } from './exit.js';
import { ApiError } from './client.js';
import { addServiceCommands } from './service-commands.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('pop')
    .description('Proof of Process: notarized, verifiable workflow steps')
    .version(pkg.version)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('serve')
    .description('run the service (DATABASE_URL, or an embedded PostgreSQL in POP_DATA_DIR); see README for the environment')
    .action(async () => {
      await (await import('./serve.js')).serve();
    });

  program
    .command('verify')
    .description('verify a proof or bundle file offline (no network unless --bitcoin)')
    .argument('<file>', 'a pop/proof/v1 or pop/bundle/v1 JSON file, or - for standard input')
    .option('--json', 'print a machine-readable report')
    .option('--notary-key <hex>', 'trust only this notary public key (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--min-difficulty <bits>', 'refuse blocks whose header demands fewer leading zero bits (default: each header\'s own)')
    .option('--bitcoin <esplora-url>', "also ask this Esplora whether the anchor's Bitcoin block is on the best chain (the one online check)")
    .action(async (file: string, opts: { json?: boolean; notaryKey: string[]; minDifficulty?: string; bitcoin?: string }) => {
      const { runVerify } = await import('./verify.js');
      process.exitCode = await runVerify(file, opts, (s) => process.stdout.write(s));
    });

  program
    .command('keygen')
    .description('generate a key pair; prints JSON with secretKey and publicKey (hex)')
    .option('--alg <alg>', 'ed25519 | ecdsa-secp256k1 | ecdsa-p256', 'ed25519')
    .option('-o, --out <file>', 'write to a file created with mode 0600 instead of standard output')
    .action(async (opts: { alg: string; out?: string }) => {
      const [{ keygen }, { writeOutput }] = await Promise.all([import('./keygen.js'), import('./io.js')]);
      writeOutput(opts.out, JSON.stringify(keygen(opts.alg), null, 2) + '\n', 0o600);
    });

  const link = program.command('link').description('work with link files');
  link
    .command('hash')
    .description('check a link file and print its linkHash = SHA-256(JCS(link))')
    .argument('<file>')
    .action(async (file: string) => {
      const { hashLink } = await import('./link.js');
      process.stdout.write(hashLink(file) + '\n');
    });
  link
    .command('sign')
    .description('sign a link file; prints the signature object')
    .argument('<file>')
    .requiredOption('--secret-key-file <file>', 'file holding the 32-byte secret key as hex')
    .requiredOption('--signer <participant>', 'participant id')
    .requiredOption('--key-id <id>', 'key id registered for the participant')
    .option('--alg <alg>', 'ed25519 | ecdsa-secp256k1 | ecdsa-p256', 'ed25519')
    .action(async (file: string, opts: { secretKeyFile: string; signer: string; keyId: string; alg: string }) => {
      const { signLink } = await import('./link.js');
      process.stdout.write(JSON.stringify(signLink(file, opts)) + '\n');
    });

  addServiceCommands(program);

  program
    .command('proof')
    .description('fetch the pop/proof/v1 of a sealed link from the service')
    .argument('<linkHash>')
    .option('-o, --out <file>', 'write the proof to a file')
    .option('--wait', 'wait until the link is sealed')
    .action(async (hash: string, opts: { out?: string; wait?: boolean }) => {
      process.exitCode = await (await import('./proof.js')).fetchProof(hash, opts);
    });

  program
    .command('chain')
    .description('the chain of blocks')
    .command('verify')
    .description('audit the whole chain of the service at POP_URL, genesis to tip (exit 0 only if all holds)')
    .option('--notary-key <hex>', 'the notary public key to trust (default: the one the service states)')
    .option('--json', 'machine-readable report')
    .action(async (opts: { notaryKey?: string; json?: boolean }) => {
      process.exitCode = await (await import('./chain.js')).verifyChain(opts);
    });

  program
    .command('bundle')
    .description('download a pop/bundle/v1: every link of a map, or of a process over a time range (admin, auditor, regulator)')
    .requiredOption('--process <id>')
    .option('--map <mapId>', 'one workflow instance')
    .option('--from <time>', 'accepted at or after (RFC 3339 UTC)')
    .option('--to <time>', 'accepted before (RFC 3339 UTC)')
    .option('-o, --out <file>', 'write to a file (streamed)')
    .action(async (opts: { process: string; map?: string; from?: string; to?: string; out?: string }) => {
      process.exitCode = await (await import('./bundle.js')).downloadBundle(opts);
    });

  program
    .command('anchor')
    .description('Bitcoin anchoring')
    .command('status')
    .description('the anchoring state of the service at POP_URL: network, address, last confirmed anchor, the one in flight')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      process.exitCode = await (await import('./anchor.js')).anchorStatus(opts);
    });

  program
    .command('demo')
    .description('register the five-party order-to-cash process and post complete orders through the real signing path')
    .option('--maps <n>', 'how many orders', '3')
    .option('--wait <state>', 'sealed | anchored', 'sealed')
    .option('--json', 'machine-readable output')
    .action(async (opts: { maps: string; wait: string; json?: boolean }) => {
      await (await import('./demo.js')).demo(opts);
    });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (e instanceof UsageError) {
      process.stderr.write(`pop: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof ApiError) {
      process.stderr.write(`pop: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof VerificationError) {
      process.stderr.write(`pop: ${e.code}: ${e.message}\n`);
      return exitCodeFor(e.code);
    }
    throw e;
  }
}

process.exitCode = await main(process.argv.slice(2));
