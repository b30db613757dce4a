// `pop demo`: the five-party order-to-cash workflow on a running service, through the real signing
// path. Registers the process and the participants if absent (their secret keys are kept in
// POP_DATA_DIR/demo-keys.json so later runs can sign again), posts complete orders, waits until
// every link is sealed (or, with --wait anchored, anchored and confirmed), and prints the map ids.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fromHex, toHex } from '../core/bytes.js';
import { createDisclosures } from '../core/disclosure.js';
import type { Json } from '../core/jcs.js';
import { type Link, linkHash } from '../core/link.js';
import { publicKeyFor, secretKeyFrom, sign } from '../core/noble-verifier.js';
import { type Alg, linkMessage } from '../core/signature.js';
import { api } from './client.js';
import { UsageError } from './exit.js';

const EXAMPLE = new URL('../../schemas/examples/order-to-cash.json', import.meta.url);

const PARTIES: { id: string; name: string; role: string; alg: Alg }[] = [
  { id: 'customer', name: 'Camille (customer)', role: 'customer', alg: 'ecdsa-p256' },
  { id: 'retailer', name: 'Boutique SA (retailer)', role: 'retailer', alg: 'ed25519' },
  { id: 'manufacturer', name: 'Atelier GmbH (manufacturer)', role: 'manufacturer', alg: 'ed25519' },
  { id: 'delivery', name: 'ACME Freight (delivery)', role: 'delivery', alg: 'ed25519' },
  { id: 'payment-provider', name: 'PayCo (payment provider)', role: 'payment-provider', alg: 'ecdsa-secp256k1' },
];

interface DemoKey {
  keyId: string;
  alg: Alg;
  secretKey: string;
  publicKey: string;
}

const STEPS: { step: string; author: string; cosigners: string[]; meta: (i: number) => Record<string, Json>; priv?: (i: number) => Record<string, Json> }[] = [
  { step: 'order', author: 'customer', cosigners: [], meta: (i) => ({ currency: 'EUR', total: 100 + i, lines: 1 + (i % 3) }), priv: (i) => ({ name: `Customer ${i}`, address: `${i} Demo Street` }) },
  { step: 'confirm', author: 'retailer', cosigners: [], meta: () => ({ promisedBy: '2026-12-24' }) },
  { step: 'produce', author: 'manufacturer', cosigners: ['retailer'], meta: (i) => ({ batch: `B-${1000 + i}`, units: 1 + (i % 3) }), priv: (i) => ({ cost: 40 + i }) },
  { step: 'ship', author: 'delivery', cosigners: [], meta: () => ({ carrier: 'ACME Freight', parcels: 1 }), priv: (i) => ({ trackingUrl: `https://track.example/${i}` }) },
  { step: 'deliver', author: 'delivery', cosigners: ['customer'], meta: () => ({ deliveredAt: new Date().toISOString() }) },
  { step: 'pay', author: 'payment-provider', cosigners: ['customer'], meta: (i) => ({ amount: 100 + i, currency: 'EUR' }), priv: () => ({ iban: 'FR7630006000011234567890189' }) },
];

function loadKeys(path: string): Record<string, DemoKey> {
  if (!existsSync(path)) return {};
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, DemoKey>;
}

async function ensureSetup(keysPath: string, say: (s: string) => void): Promise<Record<string, DemoKey>> {
  try {
    await api('GET', '/v1/processes/order-to-cash');
  } catch (e) {
    if ((e as { status?: number }).status !== 404) throw e;
    await api('POST', '/v1/processes', JSON.parse(readFileSync(EXAMPLE, 'utf8')));
    say('registered the order-to-cash process');
  }
  const keys = loadKeys(keysPath);
  for (const p of PARTIES) {
    let existing: { keys: { keyId: string; revokedAt: string | null }[] } | undefined;
    try {
      existing = (await api<{ keys: { keyId: string; revokedAt: string | null }[] }>('GET', `/v1/participants/${p.id}`)).body;
    } catch (e) {
      if ((e as { status?: number }).status !== 404) throw e;
    }
    const mine = keys[p.id];
    if (existing && mine && existing.keys.some((k) => k.keyId === mine.keyId && k.revokedAt === null)) continue;
    const secret = secretKeyFrom(p.alg, (n) => new Uint8Array(randomBytes(n)));
    const key: DemoKey = {
      keyId: `demo-${randomBytes(3).toString('hex')}`,
      alg: p.alg,
      secretKey: toHex(secret),
      publicKey: toHex(publicKeyFor(p.alg, secret)),
    };
    const record = { keyId: key.keyId, alg: key.alg, publicKey: key.publicKey };
    if (existing) await api('POST', `/v1/participants/${p.id}/keys`, record);
    else await api('POST', '/v1/participants', { id: p.id, name: p.name, roles: [p.role], keys: [record] });
    keys[p.id] = key;
    say(`${existing ? 'added a demo key to' : 'added participant'} ${p.id}`);
  }
  writeFileSync(keysPath, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  return keys;
}

export async function demo(opts: { maps: string; wait: string; json?: boolean }): Promise<void> {
  const count = Number(opts.maps);
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new UsageError('--maps must be an integer from 1 to 1000');
  if (opts.wait !== 'sealed' && opts.wait !== 'anchored') throw new UsageError('--wait must be sealed or anchored');
  const say = (s: string) => void (opts.json ? undefined : process.stderr.write(`${s}\n`));
  const dataDir = resolve(process.env['POP_DATA_DIR'] || '.pop-data');
  mkdirSync(dataDir, { recursive: true });
  const keys = await ensureSetup(join(dataDir, 'demo-keys.json'), say);

  const run = randomBytes(3).toString('hex');
  const maps: string[] = [];
  const hashes: string[] = [];
  for (let i = 0; i < count; i++) {
    const mapId = `demo-${run}-${i + 1}`;
    let prev: string[] = [];
    for (const s of STEPS) {
      const { disclosures, digests } = createDisclosures(s.priv?.(i) ?? {}, (n) => new Uint8Array(randomBytes(n)));
      const link: Link = {
        v: 1, process: 'order-to-cash', processVersion: 1, mapId, step: s.step, prev, refs: [], meta: s.meta(i),
        tags: ['demo'], digests, author: s.author, createdAt: new Date().toISOString(),
      };
      const hash = linkHash(link);
      const signatures = [s.author, ...s.cosigners].map((who) => {
        const k = keys[who]!;
        return { signer: who, keyId: k.keyId, alg: k.alg, sig: toHex(sign(k.alg, fromHex(k.secretKey), linkMessage(hash))) };
      });
      await api('POST', '/v1/links', { link, signatures, ...(disclosures.length ? { private: { disclosures: disclosures.map((d) => d.disclosure) } } : {}) });
      hashes.push(hash);
      prev = [hash];
    }
    maps.push(mapId);
    say(`posted ${mapId} (${STEPS.map((s) => s.step).join(' → ')})`);
  }

  if (opts.wait === 'anchored') {
    const status = (await api<{ enabled: boolean }>('GET', '/v1/anchors/status')).body;
    if (!status.enabled) throw new UsageError('--wait anchored: the service does not anchor (start it with POP_ANCHOR=regtest, or a network)');
  }
  const want = opts.wait === 'anchored' ? ['confirmed'] : ['sealed', 'anchored', 'confirmed'];
  say(`waiting until all ${hashes.length} links are ${opts.wait === 'anchored' ? 'anchored and confirmed' : 'sealed'}…`);
  const deadline = Date.now() + (opts.wait === 'anchored' ? 300_000 : 120_000);
  for (const hash of hashes) {
    for (;;) {
      const { body } = await api<{ status: string }>('GET', `/v1/links/${hash}`);
      if (want.includes(body.status)) break;
      if (Date.now() > deadline) {
        throw new UsageError(`links were not ${opts.wait} in time: check \`pop anchor status\` and that a sealer runs (POP_SEALER)`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  if (opts.json) process.stdout.write(JSON.stringify({ maps, links: hashes }, null, 2) + '\n');
  else process.stdout.write(`${opts.wait === 'anchored' ? 'anchored and confirmed' : 'sealed'} ${hashes.length} links in ${maps.length} maps:\n${maps.map((m) => `  ${m}`).join('\n')}\n`);
}
