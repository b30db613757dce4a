// The console's API client. The key lives in sessionStorage (gone when the tab closes) and is sent
// only as a Bearer header to this origin; a 401 signs the session out.
export type Role = 'admin' | 'participant' | 'auditor' | 'regulator';
export interface Viewer {
  role: Role;
  participantId: string | null;
  keyId: string;
}

const KEY = 'pop.apiKey';

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  set(key: string): void {
    sessionStorage.setItem(KEY, key);
  },
  clear(): void {
    sessionStorage.removeItem(KEY);
    session.viewer = null;
  },
  /** Known after sign-in (from /v1/stats). */
  viewer: null as Viewer | null,
};

/** An RFC 9457 problem (or a network failure, status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

let onUnauthenticated: () => void = () => {};
export function whenSignedOut(fn: () => void): void {
  onUnauthenticated = fn;
}

export function authHeaders(key = session.key()): Record<string, string> {
  return key ? { authorization: `Bearer ${key}` } : {};
}

async function request(path: string, init: RequestInit = {}, key = session.key()): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: { accept: 'application/json', ...authHeaders(key), ...init.headers }, credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'unreachable', 'the service cannot be reached');
  }
  if (res.ok) return res;
  let code = 'error';
  let message = `${res.status} ${res.statusText}`;
  try {
    const p = (await res.json()) as { type?: string; detail?: string; title?: string };
    code = p.type?.split('/').pop() ?? code;
    message = p.detail ?? p.title ?? message;
  } catch {
    /* not a problem document */
  }
  if (res.status === 401 && key === session.key()) {
    session.clear();
    onUnauthenticated();
  }
  throw new ApiError(res.status, code, message);
}

export async function get<T>(path: string, key?: string): Promise<T> {
  const res = await request(path, {}, key ?? session.key());
  return (await res.json()) as T;
}

/** A response body as text (bundles and proofs are saved byte for byte as served). */
export async function getText(path: string): Promise<string> {
  return (await request(path)).text();
}

export const q = (params: Record<string, string | number | undefined | null>): string => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
};

export const enc = encodeURIComponent;

// --- response shapes (the parts the console reads) ---

export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface Stats {
  viewer: Viewer;
  chain: { height: number | null; hash: string | null; timestamp: number | null; blocks: number };
  links: { total: number; accepted: number; sealed: number; anchored: number; confirmed: number };
  throughput: { bucketSeconds: number; since: string; until: string; buckets: number[]; lastMinute: number };
}

export interface Block {
  height: number;
  hash: string;
  header: string;
  notarySig: string;
  notaryKeyId: string;
  prevHash: string;
  linksRoot: string;
  leafCount: number;
  historyRoot: string;
  timestamp: number;
  difficulty: number;
  nonce: number;
  sealedAt: string;
}

export interface Anchor {
  network: string;
  blockHeight: number;
  blockHash: string;
  txid: string;
  status: 'signed' | 'broadcast' | 'confirmed' | 'dropped' | 'failed';
  feeSats: number;
  vsize: number;
  createdAt: string;
  broadcastAt: string | null;
  confirmedAt: string | null;
  bitcoinBlock: { hash: string; height: number } | null;
  detail: string | null;
}

export interface AnchorStatus {
  enabled: boolean;
  network?: string;
  address?: string;
  state: string;
  detail?: string | null;
  updatedAt?: string;
  counts: Record<string, number>;
  lastConfirmed: Anchor | null;
  inFlight: Anchor | null;
}

export type LinkStatus = 'accepted' | 'sealed' | 'anchored' | 'confirmed';

export interface PublicLink {
  v: number;
  process: string;
  processVersion: number;
  mapId: string;
  step: string;
  prev: string[];
  refs: { linkHash: string; rel?: string }[];
  meta: Record<string, unknown>;
  tags: string[];
  digests: string[];
  author: string;
  createdAt: string;
}

export interface LinkRecord {
  linkHash: string;
  status: LinkStatus;
  block: { height: number; leafIndex: number } | null;
  link: PublicLink;
  signatures: { signer: string; keyId: string; alg: string; sig: string }[];
  receipt: { linkHash: string; acceptedAt: string; notary: { keyId: string; publicKey: string }; sig: string };
}

export interface Step {
  title?: string;
  description?: string;
  authors: string[];
  signers: string[];
  after: string[];
  final?: boolean;
  meta?: unknown;
  private?: unknown;
}

export interface ProcessDef {
  id: string;
  title?: string;
  description?: string;
  roles: string[];
  forks?: boolean;
  steps: Record<string, Step>;
}

export interface ProcessRecord {
  id: string;
  version: number;
  hash: string;
  definition: ProcessDef;
  createdAt: string;
}

export interface MapSummary {
  process: string;
  mapId: string;
  heads: string[];
  links: number;
  createdAt: string;
  updatedAt: string;
}

export interface Participant {
  id: string;
  name: string;
  roles: string[];
}
