// Where the cores go during a measured phase, from /proc (Linux): the service's process (all its
// threads), PostgreSQL's processes on this machine, the benchmark's own process (the load
// generator) and the machine's idle time, each in cores (CPU seconds per second). On two shared
// cores the latency tail is decided by these together, not by the service's thread alone.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export interface CpuShares {
  seconds: number;
  /** Cores used by each, over the phase; null where /proc cannot tell (not Linux, a remote database). */
  service: number | null;
  postgres: number | null;
  generator: number | null;
  idle: number | null;
}

let tick: number | undefined;
/** Clock ticks a second (USER_HZ: /proc counts CPU time in them); 100 where getconf cannot say. */
function clockTick(): number {
  if (tick === undefined) {
    try {
      tick = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      tick = 100;
    }
  }
  return tick;
}

/** utime + stime of a process (all its threads), in clock ticks; undefined if it is gone or unreadable. */
function processTicks(pid: number | string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Each PostgreSQL process's ticks by pid (backends come and go: a phase counts the ones alive at its end). */
function postgresTicks(): Map<string, number> | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  const out = new Map<string, number>();
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
    } catch {
      continue;
    }
    const t = processTicks(pid);
    if (t !== undefined) out.set(pid, t);
  }
  return out.size ? out : undefined;
}

/** Idle + iowait ticks of all CPUs, and all ticks. */
function machineTicks(): { idle: number; all: number } | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { idle: cpu[3]! + cpu[4]!, all: cpu.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}

interface Snapshot {
  at: number;
  service: number | undefined;
  postgres: Map<string, number> | undefined;
  generator: number | undefined;
  machine: { idle: number; all: number } | undefined;
}

function snapshot(servicePid: number | undefined): Snapshot {
  return {
    at: performance.now(),
    service: servicePid === undefined ? undefined : processTicks(servicePid),
    postgres: postgresTicks(),
    generator: processTicks(process.pid),
    machine: machineTicks(),
  };
}

/** Starts measuring; the function it returns ends the phase and gives each one's cores. */
export function meterCpu(servicePid: number | undefined): () => CpuShares {
  const start = snapshot(servicePid);
  return () => {
    const end = snapshot(servicePid);
    const seconds = (end.at - start.at) / 1000;
    const cores = (a: number | undefined, b: number | undefined): number | null =>
      a === undefined || b === undefined || seconds <= 0 ? null : (b - a) / clockTick() / seconds;
    let idle: number | null = null;
    if (start.machine && end.machine && end.machine.all > start.machine.all) {
      // The share of all CPUs' ticks that were idle, as cores of the machine.
      const cpus = (end.machine.all - start.machine.all) / clockTick() / seconds;
      idle = ((end.machine.idle - start.machine.idle) / (end.machine.all - start.machine.all)) * cpus;
    }
    let postgres: number | null = null;
    if (end.postgres && seconds > 0) {
      let ticks = 0;
      // A backend started during the phase counts from zero; one that ended during it is not seen.
      for (const [pid, t] of end.postgres) ticks += t - (start.postgres?.get(pid) ?? 0);
      postgres = ticks / clockTick() / seconds;
    }
    return { seconds, service: cores(start.service, end.service), postgres, generator: cores(start.generator, end.generator), idle };
  };
}
