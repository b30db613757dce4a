// The actions of the service commands (service-commands.ts), loaded when one of them runs: they need
// core's signing and disclosures, which the other commands do not.
import { randomBytes } from 'node:crypto';
import { fromHex, parseHex, toHex } from '../core/bytes.js';
import { createDisclosures } from '../core/disclosure.js';
import { VerificationError } from '../core/errors.js';
import type { Json } from '../core/jcs.js';
import { type Link, linkHash } from '../core/link.js';
import { sign } from '../core/noble-verifier.js';
import { type Alg, isAlg, linkMessage, receiptMessage } from '../core/signature.js';
import { nodeVerifier } from '../node/verifier.js';
import { api } from './client.js';
import { UsageError } from './exit.js';
import { readJsonFile } from './io.js';

type Out = (human: string, json: unknown) => void;

function output(opts: { json?: boolean }): Out {
  return (human, json) => process.stdout.write(opts.json ? JSON.stringify(json, null, 2) + '\n' : human + '\n');
}

interface KeyFile {
  alg: Alg;
  secretKey: string;
  publicKey: string;
}

function readKeyFile(path: string): KeyFile {
  const k = readJsonFile(path) as Partial<KeyFile>;
  if (!isAlg(k.alg) || typeof k.publicKey !== 'string' || !parseHex(k.publicKey)) {
    throw new UsageError(`${path} is not a key file from \`pop keygen\` (alg, publicKey, secretKey)`);
  }
  return k as KeyFile;
}

/** A key file that can sign: its secretKey is 32 bytes of hex. */
function readSigningKeyFile(path: string): KeyFile & { secretKey: string } {
  const key = readKeyFile(path);
  if (typeof key.secretKey !== 'string' || !parseHex(key.secretKey, 32)) throw new UsageError(`${path} has no 32-byte secretKey: it cannot sign`);
  return key as KeyFile & { secretKey: string };
}

function jsonArg(value: string | undefined, what: string): Record<string, Json> {
  if (value === undefined) return {};
  const parsed = value.startsWith('@') ? readJsonFile(value.slice(1)) : tryParse(value, what);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`${what} must be a JSON object`);
  return parsed as Record<string, Json>;
}

function tryParse(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} is not JSON: ${(e as Error).message} (use @file to read a file)`);
  }
}

export async function registerProcess(file: string, opts: { newVersion?: boolean; json?: boolean }): Promise<void> {
  const def = readJsonFile(file) as { id?: unknown };
  if (typeof def.id !== 'string') throw new UsageError(`${file} has no "id"`);
  const { body } = await api('POST', opts.newVersion ? `/v1/processes/${encodeURIComponent(def.id)}/versions` : '/v1/processes', def);
  output(opts)(`registered ${String(body['id'])} version ${String(body['version'])} (hash ${String(body['hash'])})`, body);
}

export async function showProcess(id: string, opts: { version?: string; json?: boolean }): Promise<void> {
  if (opts.version !== undefined && !/^[1-9][0-9]{0,9}$/.test(opts.version)) throw new UsageError('--version must be a positive integer');
  const { body } = await api<{ id: string; version: number; hash: string; definition: { title: string; roles: string[]; steps: Record<string, { after: string[]; authors: string[]; signers: string[]; final?: boolean }> } }>(
    'GET',
    `/v1/processes/${encodeURIComponent(id)}${opts.version ? `?version=${opts.version}` : ''}`,
  );
  const d = body.definition;
  const steps = Object.entries(d.steps).map(
    ([name, s]) => `  ${name.padEnd(14)} by ${s.authors.join('|')}${s.signers.length ? ` + ${s.signers.join(', ')}` : ''}  after ${s.after.join('|') || '(start)'}${s.final ? '  (final)' : ''}`,
  );
  output(opts)([`${body.id} v${body.version}: ${d.title}`, `  roles: ${d.roles.join(', ')}`, `  hash: ${body.hash}`, ...steps].join('\n'), body);
}

export async function addParticipant(id: string, opts: { name: string; role: string[]; keyFile?: string; keyId: string; json?: boolean }): Promise<void> {
  const keys = opts.keyFile ? [{ keyId: opts.keyId, alg: readKeyFile(opts.keyFile).alg, publicKey: readKeyFile(opts.keyFile).publicKey }] : [];
  const { body } = await api('POST', '/v1/participants', { id, name: opts.name, roles: opts.role, keys });
  output(opts)(`added participant ${id} (roles: ${opts.role.join(', ') || 'none'}; keys: ${keys.map((k) => k.keyId).join(', ') || 'none'})`, body);
}

export async function participantKey(id: string, opts: { keyFile?: string; keyId?: string; revoke?: string; reason?: string; json?: boolean }): Promise<void> {
  if (opts.revoke) {
    const { body } = await api('POST', `/v1/participants/${encodeURIComponent(id)}/keys/${encodeURIComponent(opts.revoke)}/revoke`, opts.reason ? { reason: opts.reason } : {});
    output(opts)(`revoked ${id}/${opts.revoke} at ${String(body['revokedAt'])}`, body);
    return;
  }
  if (!opts.keyFile || !opts.keyId) throw new UsageError('give --key-file and --key-id to add a key, or --revoke <keyId>');
  const k = readKeyFile(opts.keyFile);
  const { body } = await api('POST', `/v1/participants/${encodeURIComponent(id)}/keys`, { keyId: opts.keyId, alg: k.alg, publicKey: k.publicKey });
  output(opts)(`added key ${id}/${opts.keyId} (${k.alg})`, body);
}

export async function createApiKey(opts: { role: string; participant?: string; label?: string; json?: boolean }): Promise<void> {
  const { body } = await api('POST', '/v1/api-keys', { role: opts.role, ...(opts.participant ? { participantId: opts.participant } : {}), ...(opts.label ? { label: opts.label } : {}) });
  output(opts)(`${String(body['secret'])}\n(${opts.role}${opts.participant ? ` for ${opts.participant}` : ''}, id ${String(body['id'])}; shown once)`, body);
}

export async function appendLink(opts: {
      process: string; version?: string; map: string; step: string; author: string; keyFile: string; keyId: string;
      prev: string[]; meta?: string; private?: string; tag: string[]; ref: string[]; cosign: string[]; notaryKey?: string; json?: boolean;
    }): Promise<void> {
  const key = readSigningKeyFile(opts.keyFile);
  if (opts.notaryKey !== undefined && !/^[0-9a-f]{64}$/.test(opts.notaryKey)) throw new UsageError(`--notary-key ${opts.notaryKey} is not 32 bytes of lowercase hex`);
  // The notary to trust, known before anything is posted (a failure after the post would report an
  // error for a link that was stored).
  const notaryKey = opts.notaryKey ?? (await api<{ publicKey?: unknown }>('GET', '/v1/notary')).body?.publicKey;
  if (typeof notaryKey !== 'string' || !/^[0-9a-f]{64}$/.test(notaryKey)) throw new UsageError('the service states no notary key at /v1/notary: pass --notary-key');
  const version = opts.version
    ? Number(opts.version)
    : ((await api<{ version: number }>('GET', `/v1/processes/${encodeURIComponent(opts.process)}`)).body.version);
  if (!Number.isInteger(version) || version < 1) throw new UsageError('--version must be a positive integer');
  let prev = opts.prev;
  if (prev.length === 0) {
    try {
      prev = (await api<{ heads: string[] }>('GET', `/v1/maps/${encodeURIComponent(opts.process)}/${encodeURIComponent(opts.map)}?limit=1`)).body.heads;
    } catch (e) {
      if ((e as { status?: number }).status !== 404) throw e;
      prev = [];
    }
  }
  const priv = jsonArg(opts.private, '--private');
  const { disclosures, digests } = createDisclosures(priv, (n) => new Uint8Array(randomBytes(n)));
  const linkObj: Link = {
    v: 1,
    process: opts.process,
    processVersion: version,
    mapId: opts.map,
    step: opts.step,
    prev,
    refs: opts.ref.map((linkHash) => ({ linkHash })),
    meta: jsonArg(opts.meta, '--meta'),
    tags: opts.tag,
    digests,
    author: opts.author,
    createdAt: new Date().toISOString(),
  };
  const hash = linkHash(linkObj);
  const signatures = [{ signer: opts.author, keyId: opts.keyId, alg: key.alg, sig: toHex(sign(key.alg, fromHex(key.secretKey), linkMessage(hash))) }];
  for (const spec of opts.cosign) {
    const [participant, keyId, file] = spec.split(':');
    if (!participant || !keyId || !file) throw new UsageError(`--cosign ${spec}: expected participant:keyId:keyfile`);
    const k = readSigningKeyFile(file);
    signatures.push({ signer: participant, keyId, alg: k.alg, sig: toHex(sign(k.alg, fromHex(k.secretKey), linkMessage(hash))) });
  }
  const { status, body } = await api<{ linkHash?: unknown; receipt?: { linkHash?: unknown; acceptedAt?: unknown; sig?: unknown; notary?: { keyId?: unknown; publicKey?: unknown } } }>('POST', '/v1/links', {
    link: linkObj,
    signatures,
    ...(disclosures.length ? { private: { disclosures: disclosures.map((d) => d.disclosure) } } : {}),
  });
  // The receipt is the service's promise: it must be for this very link, by the notary we trust (the
  // pinned key, else the one the service states at /v1/notary), and its signature must verify.
  const r = body?.receipt;
  if (typeof r !== 'object' || r === null || typeof r.acceptedAt !== 'string' || typeof r.sig !== 'string' || !parseHex(r.sig, 64) || typeof r.notary?.publicKey !== 'string') {
    throw new VerificationError('MALFORMED', `the service answered ${status} without a well-formed receipt (linkHash, acceptedAt, a 64-byte hex sig, notary.publicKey)`);
  }
  if (body?.linkHash !== hash || r.linkHash !== hash) {
    throw new VerificationError('LINK_HASH_MISMATCH', `the service answered for link ${String(body?.linkHash)} (receipt for ${String(r.linkHash)}), not for the link posted, ${hash}`);
  }
  if (r.notary.publicKey !== notaryKey) {
    throw new VerificationError('NOTARY_KEY_MISMATCH', `the receipt is signed by notary key ${r.notary.publicKey}, not by ${notaryKey}${opts.notaryKey ? ' (pinned)' : ' (the key the service states)'}`);
  }
  if (!nodeVerifier.verify('ed25519', fromHex(notaryKey), receiptMessage(hash, r.acceptedAt), parseHex(r.sig, 64)!)) {
    throw new VerificationError('NOTARY_SIGNATURE_INVALID', `the receipt's signature does not verify over pop:receipt:v1:${hash}:${r.acceptedAt}`);
  }
  output(opts)(
    [
      `${status === 201 ? 'accepted' : 'already accepted'}: ${hash}`,
      `  ${opts.process} v${version} · map ${opts.map} · step ${opts.step} · by ${opts.author}`,
      `  receipt: notary ${String(r.notary.keyId)} signed pop:receipt:v1:${hash}:${r.acceptedAt} ✓`,
    ].join('\n'),
    { ...body, link: linkObj, disclosures: disclosures.map((d) => d.disclosure) },
  );
}
