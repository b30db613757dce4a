import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { UsageError } from './exit.js';

// Under V8's longest string (2^29 − 24 characters), which the file becomes before it is parsed.
const MAX_INPUT_BYTES = 512 * 1024 * 1024 - 64;

/** What the file holds is read as one string, so its size is bounded; a bundle bigger than this is fetched in parts. */
const tooLarge = (path: string) =>
  new UsageError(`${path} is larger than 512 MiB, the most pop reads as one file (a bundle of ≈ 340,000 five-step links): fetch a big bundle in parts (a process's by time range, from and to) and verify each`);

/** Reads and parses a JSON file ('-' = standard input), with a precise message on failure. */
export function readJsonFile(path: string): unknown {
  if (path !== '-') {
    let size: number | undefined;
    try {
      size = statSync(path).size;
    } catch {
      /* reading it says why */
    }
    if (size !== undefined && size > MAX_INPUT_BYTES) throw tooLarge(path);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path === '-' ? 0 : path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_FS_FILE_TOO_LARGE') throw tooLarge(path);
    throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // (A regular file was measured before it was read; standard input and pipes only once read.)
  if (bytes.length > MAX_INPUT_BYTES) throw tooLarge(path);
  const text = bytes.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`${path} is not JSON: ${(e as Error).message}`);
  }
}

export function writeOutput(path: string | undefined, text: string, mode?: number): void {
  if (path === undefined || path === '-') process.stdout.write(text);
  else writeFileSync(path, text, mode === undefined ? undefined : { mode });
}
