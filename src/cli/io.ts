import { readFileSync, writeFileSync } from 'node:fs';
import { UsageError } from './exit.js';

const MAX_INPUT_BYTES = 512 * 1024 * 1024;

/** Reads and parses a JSON file ('-' = standard input), with a precise message on failure. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (text.length > MAX_INPUT_BYTES) throw new UsageError(`${path} is larger than ${MAX_INPUT_BYTES} bytes`);
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
