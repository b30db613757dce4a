// Opaque cursors: base64url of a JSON position. A cursor that does not decode is a 400, not a 500.
import { refuse } from './errors.js';

export interface Page<T> {
  items: T[];
  next: string | null;
}

export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, valid: (v: unknown) => boolean): unknown {
  try {
    if (cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('bad');
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!valid(value) || JSON.stringify(value).includes('\\u0000')) throw new Error('bad');
    return value;
  } catch {
    return refuse('malformed', 'the cursor is not one this service issued');
  }
}
