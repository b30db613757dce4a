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

/**
 * JSON.parse, then throws BodyError for duplicate member names, nesting deeper than maxDepth, an
 * object of more than MAX_MEMBERS members, or a string holding U+0000 or a lone surrogate.
 */
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
  const stack: (MemberNames | null)[] = []; // the names of an open object, null for an open array
  let expectKey = false;
  // In valid JSON a backslash occurs only inside a string, so the position of the next one is searched for
  // once and kept until a string passes it: a string without escapes (hex signatures and hashes) costs
  // one native search for its closing quote, not a loop over its characters.
  let backslash = text.indexOf('\\');
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) throw new BodyError(`the body is nested deeper than ${maxDepth} levels`);
      stack.push(c === 0x7b ? new MemberNames() : null);
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] !== null;
    } else if (c === 0x22 /* " */) {
      let j = text.indexOf('"', i + 1);
      const escaped = backslash !== -1 && backslash < j;
      if (escaped) {
        // From the first backslash on, each one takes the next character with it, so \" does not end the
        // string. Walked a character at a time: escape-dense text would cost a native search per escape.
        for (j = backslash; j < text.length; j++) {
          const d = text.charCodeAt(j);
          if (d === 0x5c /* \\ */) j++;
          else if (d === 0x22 /* " */) break;
        }
        backslash = text.indexOf('\\', j);
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
        const names = stack[stack.length - 1] as MemberNames;
        if (names.size >= MAX_MEMBERS) throw new BodyError(`an object in the body has more than ${MAX_MEMBERS} members`);
        if (!names.add(key)) throw new BodyError(`the body has the member name ${JSON.stringify(key.slice(0, 64))} twice in one object`);
        expectKey = false;
      }
      i = j;
    }
  }
}

/**
 * The member names of one object. Signed objects have a handful of members, and searching a short list
 * costs less than building a Set for each; past SHORT names a Set keeps a 1024-member object linear.
 */
class MemberNames {
  static readonly SHORT = 16;
  readonly #list: string[] = [];
  #set: Set<string> | null = null;

  get size(): number {
    return this.#set ? this.#set.size : this.#list.length;
  }

  /** False if the name is already there. */
  add(name: string): boolean {
    if (this.#set) {
      if (this.#set.has(name)) return false;
      this.#set.add(name);
    } else {
      if (this.#list.includes(name)) return false;
      this.#list.push(name);
      if (this.#list.length > MemberNames.SHORT) this.#set = new Set(this.#list);
    }
    return true;
  }
}
