// The JSON body parser for everything hashed or signed. JSON.parse silently keeps the last of two
// equal member names, so {"meta":{"a":1,"a":2}} would be read one way by us and another way by a
// partner's parser: that ambiguity is refused. Nesting depth and members per object are bounded in
// the same linear scan, so a hostile body cannot blow the stack or the CPU of anything downstream.
export class BodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BodyError';
  }
}

export const MAX_DEPTH = 32;
/** Members of one object: schemas with thousands of properties are not workflow steps. */
export const MAX_MEMBERS = 1024;

/** Throws BodyError for duplicate member names or nesting deeper than maxDepth; then JSON.parse. */
export function parseStrictJson(text: string, maxDepth = MAX_DEPTH): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new BodyError(`the body is not JSON: ${(e as Error).message}`);
  }
  scan(text, maxDepth);
  return value;
}

/** One pass over valid JSON text tracking, per open object, the member names seen so far. */
function scan(text: string, maxDepth: number): void {
  const stack: (Set<string> | null)[] = []; // a Set for an object, null for an array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) throw new BodyError(`the body is nested deeper than ${maxDepth} levels`);
      stack.push(c === 0x7b ? new Set() : null);
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] instanceof Set;
    } else if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (; j < text.length; j++) {
        const d = text.charCodeAt(j);
        if (d === 0x5c) {
          j++; // skip the escaped character
          escaped = true;
        } else if (d === 0x22) break;
      }
      // A plain value string (no escape) needs no copy: only member names and escaped strings are read.
      if (!escaped && !expectKey) {
        i = j;
        continue;
      }
      const token = text.slice(i + 1, j);
      // PostgreSQL text and jsonb cannot hold U+0000, and a lone surrogate is not I-JSON (nothing hashes
      // it the same way twice): refuse both at the door rather than fail later.
      if (escaped && /\\u(?:0000|d[89a-f])/i.test(token)) {
        const decoded = JSON.parse(`"${token}"`) as string;
        if (decoded.includes('\u0000')) throw new BodyError('strings in the body may not contain U+0000');
        if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(decoded)) throw new BodyError('strings in the body may not contain lone surrogates');
      }
      if (expectKey) {
        const raw = token;
        const key = escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
        const seen = stack[stack.length - 1] as Set<string>;
        if (seen.size >= MAX_MEMBERS) throw new BodyError(`an object in the body has more than ${MAX_MEMBERS} members`);
        if (seen.has(key)) throw new BodyError(`the body has the member name ${JSON.stringify(key.slice(0, 64))} twice in one object`);
        seen.add(key);
        expectKey = false;
      }
      i = j;
    }
  }
}
