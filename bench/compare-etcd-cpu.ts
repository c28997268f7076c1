/**
 * CPU time of server processes for bench/compare-etcd.ts, read from /proc/<pid>/stat (Linux):
 * user + system time of each process (its threads included), summed. Processes that are gone
 * or unreadable count 0 (the figure is then a lower bound).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export interface CpuSample {
  /** CPU seconds consumed so far by the processes, together. */
  readonly seconds: number;
}

let ticksPerSecond: number | null = null;
function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

export function cpuOfTree(pids: readonly number[]): CpuSample {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which is in parentheses and may contain spaces).
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // rest[0] is field 3 (state); utime is field 14, stime field 15.
      ticks += Number(rest[11]) + Number(rest[12]);
    } catch {
      // gone, or not Linux
    }
  }
  return { seconds: ticks / clockTicks() };
}

/** Busy CPU seconds of the whole machine (all cores, from /proc/stat: everything but idle and iowait). */
export function machineBusySeconds(): number {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    const busy = f[0]! + f[1]! + f[2]! + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
    return busy / clockTicks();
  } catch {
    return 0;
  }
}
