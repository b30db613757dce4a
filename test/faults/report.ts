// What a fault run saw, by kind of fault: rounds, recovery times, the answers that were not 2xx or
// 4xx (5xx by problem type, refused or cut connections, hangs), and how many checks passed.
import { writeFileSync } from 'node:fs';

export type FaultKind = 'kill -9' | 'pg restart' | 'pg terminate' | 'pg pause' | 'pool exhaustion';

interface KindStats {
  rounds: number;
  recoveryMs: number[];
  answers: Record<string, number>;
}

const percentile = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

export class FaultReport {
  readonly kinds = new Map<FaultKind, KindStats>();
  checks = 0;
  kills = 0;
  acknowledged = 0;
  requests = 0;
  /** Anchors at the end of the regtest scenario (checkAnchors). */
  anchors: { anchors: number; confirmed: number; onChain: number } | undefined;
  readonly started = Date.now();

  /** Records one round: its recovery time and the answers counted during it (a diff of the load's counters). */
  round(kind: FaultKind, recoveryMs: number, before: Map<string, number>, after: Map<string, number>): void {
    const k = this.kinds.get(kind) ?? { rounds: 0, recoveryMs: [], answers: {} };
    k.rounds++;
    k.recoveryMs.push(recoveryMs);
    for (const [what, n] of after) {
      const d = n - (before.get(what) ?? 0);
      if (d > 0 && !/^((proof|bundle) )?(2\d\d|4\d\d)$/.test(what)) k.answers[what] = (k.answers[what] ?? 0) + d;
    }
    this.kinds.set(kind, k);
    if (kind === 'kill -9') this.kills++;
  }

  /** 500s and hangs seen over the whole run (must be none). */
  get forbidden(): number {
    let n = 0;
    for (const k of this.kinds.values()) for (const [what, c] of Object.entries(k.answers)) if (/(^|\s)(500|hang)\b/.test(what) || /^(proof )?5\d\d no-problem-type/.test(what)) n += c;
    return n;
  }

  text(): string {
    const lines = [
      `fault run: ${[...this.kinds.values()].reduce((s, k) => s + k.rounds, 0)} rounds in ${Math.round((Date.now() - this.started) / 1000)} s; ` +
        `${this.kills} kills; ${this.requests} requests; ${this.acknowledged} links acknowledged; ${this.checks} checks passed; 500s and hangs: ${this.forbidden}`,
      ...(this.anchors
        ? [`anchors (regtest): ${this.anchors.anchors} made, ${this.anchors.confirmed} confirmed, ${this.anchors.onChain} on the chain; none lost or doubled`]
        : []),
      'kind             rounds  recovery ms (min / median / p95 / max)   answers other than 2xx/4xx',
    ];
    for (const [kind, k] of this.kinds) {
      const r = k.recoveryMs;
      const rec = `${Math.min(...r)} / ${percentile(r, 50)} / ${percentile(r, 95)} / ${Math.max(...r)}`;
      const answers = Object.entries(k.answers).map(([w, n]) => `${w}: ${n}`).join(', ') || 'none';
      lines.push(`${kind.padEnd(16)} ${String(k.rounds).padStart(6)}  ${rec.padEnd(39)}  ${answers}`);
    }
    return lines.join('\n');
  }

  toJSON(): unknown {
    return {
      rounds: Object.fromEntries([...this.kinds].map(([kind, k]) => [kind, k.rounds])),
      kills: this.kills,
      requests: this.requests,
      acknowledged: this.acknowledged,
      checksPassed: this.checks,
      forbidden: this.forbidden,
      anchors: this.anchors ?? null,
      seconds: Math.round((Date.now() - this.started) / 1000),
      byKind: Object.fromEntries(
        [...this.kinds].map(([kind, k]) => [kind, { rounds: k.rounds, recoveryMs: { min: Math.min(...k.recoveryMs), median: percentile(k.recoveryMs, 50), p95: percentile(k.recoveryMs, 95), max: Math.max(...k.recoveryMs), all: k.recoveryMs }, answers: k.answers }]),
      ),
    };
  }

  /** Prints the report, and writes it as JSON to `file` when given. */
  print(file?: string): void {
    console.info(this.text());
    if (file) writeFileSync(file, JSON.stringify(this.toJSON(), null, 2) + '\n');
  }
}
