// `pop link hash|sign`: what a partner needs to produce a signed link without writing code.
import { readFileSync } from 'node:fs';
import { fromHex, parseHex, toHex } from '../core/bytes.js';
import { VerificationError } from '../core/errors.js';
import { checkLink, linkHash } from '../core/link.js';
import { sign } from '../core/noble-verifier.js';
import { type Alg, isAlg, linkMessage } from '../core/signature.js';
import { UsageError } from './exit.js';
import { readJsonFile } from './io.js';

function checked(file: string) {
  try {
    return checkLink(readJsonFile(file));
  } catch (e) {
    if (e instanceof VerificationError) throw new UsageError(`${file}: ${e.message}`);
    throw e;
  }
}

export function hashLink(file: string): string {
  return linkHash(checked(file));
}

export interface SignOptions {
  alg: string;
  secretKeyFile: string;
  signer: string;
  keyId: string;
}

export function signLink(file: string, opts: SignOptions): { signer: string; keyId: string; alg: Alg; sig: string } {
  if (!isAlg(opts.alg)) throw new UsageError(`unknown algorithm ${opts.alg}`);
  let secretHex: string;
  try {
    secretHex = readFileSync(opts.secretKeyFile, 'utf8').trim();
  } catch (e) {
    throw new UsageError(`cannot read ${opts.secretKeyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const secret = parseHex(secretHex, 32);
  if (!secret) throw new UsageError(`${opts.secretKeyFile} must hold a 32-byte secret key as lowercase hex`);
  const hash = linkHash(checked(file));
  try {
    return { signer: opts.signer, keyId: opts.keyId, alg: opts.alg, sig: toHex(sign(opts.alg, fromHex(secretHex), linkMessage(hash))) };
  } catch (e) {
    throw new UsageError(`cannot sign with that key: ${(e as Error).message}`);
  }
}
