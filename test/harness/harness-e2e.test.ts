/**
 * The multi-process harness end to end, as CI runs it: real `tessera serve` children, remote
 * clients, SIGKILL / SIGSTOP / partitions, then the checks. One short run must report no
 * violation and no lost write; an interrupted run must leave no child process behind
 * (cluster-procs.test.ts kills stopped children directly).
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
// Type-only: brings the CLI and the run into the type-check without running them here.
import type { HarnessSummary } from '../../harness/harness.ts';
import { faultSchedule } from '../../harness/nemesis.ts';
import type { ExitCode } from '../../harness/run.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Finished {
  readonly code: number | null;
  readonly lines: string[];
  readonly stderr: string;
}

/** Runs the CLI; `onLine` sees each stdout line as it comes (it may signal the child). */
function harness(args: string[], onLine: (line: string, child: ReturnType<typeof spawn>) => void = () => {}): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'harness/run.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let partial = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        onLine(l, child);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      if (partial !== '') lines.push(partial);
      resolve({ code, lines, stderr });
    });
  });
}

function summaryOf(r: Finished): HarnessSummary {
  return JSON.parse(r.lines[r.lines.length - 1]!) as HarnessSummary;
}

/** Processes whose command line mentions `text` (the harness passes each child its data dir). */
function processesMentioning(text: string): string[] {
  return execFileSync('ps', ['-eo', 'pid,stat,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(text) && !l.includes(' ps -eo'));
}

const cleanupDirs: string[] = [];
afterAll(() => {
  for (const d of cleanupDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('multi-process harness', () => {
  it('3 nodes, 12 s of kill/pause/partition: no violation, nothing lost', async () => {
    // Seed 40's schedule kills the leader first, then partitions it, then pauses a node.
    const steps = faultSchedule({ seed: 40, kinds: ['kill', 'pause', 'partition'], ids: [1, 2, 3], totalMs: 12_000 });
    expect(steps.map((s) => s.kind)).toEqual(['kill', 'partition', 'pause']);

    const t0 = Date.now();
    const r = await harness(['--nodes', '3', '--seconds', '12', '--nemesis', 'kill,pause,partition', '--seed', '40']);
    const output = `${r.lines.join('\n')}\n${r.stderr}`;
    const code: ExitCode | null = r.code as ExitCode | null;
    expect(code, output).toBe(0);
    const s = summaryOf(r);
    expect(Object.keys(s)).toEqual(['ops', 'acked', 'lost', 'violations', 'faults']);
    expect(s, output).toMatchObject({ lost: 0, violations: 0 });
    expect(s.ops).toBeGreaterThan(100);
    expect(s.acked).toBeGreaterThan(30);
    expect(s.faults.kill, output).toBe(1);
    expect(s.faults.kill + s.faults.pause + s.faults.partition, output).toBeGreaterThanOrEqual(2);
    expect(r.lines.some((l) => l.includes('linearizability: ok')), output).toBe(true);
    expect(Date.now() - t0).toBeLessThan(60_000);
  }, 120_000);

  /** Runs the harness with the pause nemesis and SIGTERMs it while a node is SIGSTOPped. */
  async function interrupted(): Promise<{ r: Finished; dir: string; sawStopped: boolean; output: string }> {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-harness-e2e-'));
    cleanupDirs.push(base);
    let dir = '';
    let sawStopped = false;
    let signalled = false;
    const r = await harness(['--nodes', '3', '--seconds', '60', '--nemesis', 'pause', '--seed', '1', '--dir', base], (line, child) => {
      const m = /starting 3 nodes in (\S+)/.exec(line);
      if (m) dir = m[1]!;
      if (!signalled && /nemesis: pause node \d+ (\(leader\) )?for/.test(line)) {
        signalled = true;
        sawStopped = processesMentioning(dir).some((l) => /^\s*\d+\s+T/.test(l));
        child.kill('SIGTERM');
      }
    });
    return { r, dir, sawStopped, output: `${r.lines.join('\n')}\n${r.stderr}` };
  }

  it('SIGTERM mid-fault winds the run down (exit 2): the fault is undone, every child killed, its directory removed', async () => {
    const { r, dir, sawStopped, output } = await interrupted();
    expect(sawStopped, output).toBe(true);
    expect(r.code, output).toBe(2);
    expect(r.lines.some((l) => l.includes('undecided: harness error: interrupted')), output).toBe(true);
    expect(r.lines.some((l) => /nemesis: pause node \d+ undone/.test(l)), output).toBe(true);
    expect(dir).not.toBe('');
    expect(processesMentioning(dir)).toEqual([]);
    expect(fs.existsSync(dir)).toBe(false);
  }, 90_000);
});
