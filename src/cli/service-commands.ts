// The commands that talk to a running service: process register|show, participant add|key,
// api-key create, link append. Human output by default, --json for scripts. The definitions are
// here; the actions (service-actions.ts) load only when one runs.
import type { Command } from 'commander';
import type * as ServiceActions from './service-actions.js';

type Actions = typeof ServiceActions;
const actions = (): Promise<Actions> => import('./service-actions.js');

const collect = (v: string, acc: string[]) => [...acc, v];

export function addServiceCommands(program: Command): void {
  const process_ = program.command('process').description('process definitions (taxonomies) on the service at POP_URL');
  process_
    .command('register')
    .description('register a process definition (version 1), or with --new-version the next version')
    .argument('<file>', 'process definition JSON (see schemas/process.json and schemas/examples/)')
    .option('--new-version', 'register the next version of an existing process')
    .option('--json', 'machine-readable output')
    .action(async (...a: Parameters<Actions['registerProcess']>) => (await actions()).registerProcess(...a));
  process_
    .command('show')
    .argument('<id>')
    .option('--version <n>', 'a specific version (default: the latest)')
    .option('--json', 'machine-readable output')
    .action(async (...a: Parameters<Actions['showProcess']>) => (await actions()).showProcess(...a));

  const participant = program.command('participant').description('participants and their keys');
  participant
    .command('add')
    .argument('<id>')
    .requiredOption('--name <name>', 'display name')
    .option('--role <role>', 'a role (repeatable)', collect, [] as string[])
    .option('--key-file <file>', 'a key file from `pop keygen` (its public key is registered)')
    .option('--key-id <id>', 'id of that key', 'key-1')
    .option('--json', 'machine-readable output')
    .action(async (...a: Parameters<Actions['addParticipant']>) => (await actions()).addParticipant(...a));
  participant
    .command('key')
    .description('add a key to a participant, or revoke one with --revoke')
    .argument('<id>')
    .option('--key-file <file>', 'key file from `pop keygen` to add')
    .option('--key-id <id>', 'id of the key to add')
    .option('--revoke <keyId>', 'revoke this key instead')
    .option('--reason <text>', 'why (with --revoke)')
    .option('--json', 'machine-readable output')
    .action(async (...a: Parameters<Actions['participantKey']>) => (await actions()).participantKey(...a));

  program
    .command('api-key')
    .description('create an API key (admin); the secret is shown once')
    .requiredOption('--role <role>', 'admin | participant | auditor | regulator')
    .option('--participant <id>', 'the participant a participant key acts for')
    .option('--label <text>')
    .option('--json', 'machine-readable output')
    .action(async (...a: Parameters<Actions['createApiKey']>) => (await actions()).createApiKey(...a));

  const link = program.commands.find((c) => c.name() === 'link')!;
  link
    .command('append')
    .description('build a link (disclosures and salts made locally), sign it, post it, print its hash and receipt')
    .requiredOption('--process <id>')
    .option('--version <n>', 'process version (default: the latest)')
    .requiredOption('--map <mapId>')
    .requiredOption('--step <step>')
    .requiredOption('--author <participant>')
    .requiredOption('--key-file <file>', "the author's key file from `pop keygen`")
    .requiredOption('--key-id <id>', "the author's key id")
    .option('--prev <hash>', 'previous link(s) (repeatable; default: the map\'s current heads, or none for a new map)', collect, [] as string[])
    .option('--meta <json>', 'public meta as JSON, or @file', undefined)
    .option('--private <json>', 'private data as JSON, or @file: only digests leave in the link', undefined)
    .option('--tag <tag>', 'a tag (repeatable)', collect, [] as string[])
    .option('--ref <hash>', 'a referenced link (repeatable)', collect, [] as string[])
    .option('--cosign <spec>', 'a co-signature as participant:keyId:keyfile (repeatable)', collect, [] as string[])
    .option('--notary-key <hex>', "the notary key the receipt must be signed by (default: the one the service states at /v1/notary)")
    .option('--json', 'machine-readable output')
    .action(async (...a: Parameters<Actions['appendLink']>) => (await actions()).appendLink(...a));
}
