// Where the published conformance vectors live (see ../shared/vectors/README.md). They are read in
// place, never copied into the project: POP_VECTORS_DIR if set, else <repo>/../shared/vectors. Where
// the folder is absent (a user's clone) the conformance suites say so in one line and are skipped;
// every other test still runs.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';

/** The repository root: two levels up from test/helpers/. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let resolved: { dir: string | undefined } | undefined;

/** The vectors folder, or undefined (after one console.warn line) when it is absent. */
export function vectorsDir(): string | undefined {
  if (resolved) return resolved.dir;
  const dir = resolve(process.env['POP_VECTORS_DIR'] ?? join(REPO_ROOT, '..', 'shared', 'vectors'));
  const present = existsSync(dir) && statSync(dir).isDirectory();
  if (!present && process.env['CI']) {
    // CI always has ../shared beside the clone: a missing folder there is a broken path, not a user's clone.
    throw new Error(`conformance vectors not found at ${dir}, and CI is set: refusing to skip the conformance suites`);
  }
  if (!present) {
    console.warn(`conformance vectors not found at ${dir} (set POP_VECTORS_DIR); the conformance suites are skipped`);
  }
  resolved = { dir: present ? dir : undefined };
  return resolved.dir;
}

/** `describe` when the vectors are present, `describe.skip` otherwise. */
export function describeVectors(name: string, fn: () => void): void {
  (vectorsDir() === undefined ? describe.skip : describe)(name, fn);
}

/** A path inside the vectors folder (undefined when the folder is absent). */
export function vectorPath(...parts: string[]): string | undefined {
  const dir = vectorsDir();
  return dir === undefined ? undefined : join(dir, ...parts);
}

/** Every file under `sub` of the vectors folder whose name ends with `ext`, sorted, as paths relative to the folder. */
export function listVectorFiles(sub: string, ext: string): string[] {
  const dir = vectorsDir();
  if (dir === undefined) return [];
  const root = join(dir, sub);
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith(ext)) out.push(relative(dir, path));
    }
  };
  walk(root);
  return out.sort();
}

/** Reads a file of the vectors folder (path relative to it) as UTF-8 text. */
export function readVector(relPath: string): string {
  const dir = vectorsDir();
  if (dir === undefined) throw new Error('conformance vectors are absent');
  return readFileSync(join(dir, relPath), 'utf8');
}

/** Wycheproof's EdDSA file (ed25519/wycheproof_eddsa_test.json), as the suites read it. */
export interface WycheproofEddsaTest {
  tcId: number;
  comment: string;
  msg: string;
  sig: string;
  result: 'valid' | 'invalid' | 'acceptable';
  flags: string[];
}
export interface WycheproofEddsaFile {
  algorithm: string;
  numberOfTests: number;
  testGroups: { key: { curve: string; pk: string; sk: string }; type: string; tests: WycheproofEddsaTest[] }[];
}

export function readWycheproofEddsa(): WycheproofEddsaFile {
  return JSON.parse(readVector('ed25519/wycheproof_eddsa_test.json')) as WycheproofEddsaFile;
}
