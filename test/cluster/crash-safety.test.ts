/**
 * kill -9 of a whole durable cluster, again and again, at seeded random moments: while the
 * process loads, while the cluster recovers and elects, while it checks what it recovered, and
 * while it writes. A child process (crash-child.ts) runs a 3-node Cluster on one directory,
 * writes keys, and prints each acknowledgement only after the put resolved; the test keeps the
 * ledger of acknowledged keys and restarts the child after every kill.
 *
 * After every restart the child checks, before writing, what it recovered against the ledger
 * (crash-check.ts: every acknowledged key present with its value, every key written once, one
 * put event per key, identical replicas, a new write accepted); every few kills, and at the
 * end, the test opens the directory itself and runs the same check.
 *
 * A process kill keeps the OS page cache, so this checks atomicity and acknowledgement order
 * across crashes (the stores sync before acknowledging), not what survives a power cut.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/cluster/cluster.ts';
import { SeededRandom } from '../util/seeded-random.ts';
import { checkCluster, CRASH_CLUSTER, type CrashChildOptions } from './crash-check.ts';
import { startCluster, tempDir, track } from './harness.ts';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const SEED = 0x7e55e7a;
const KILLS = 25;
/** The test opens the directory itself after every CHECK_EVERY-th kill (and after the last). */
const CHECK_EVERY = 5;
/** Keys of run r are k<r * RUN_KEYS> and on: disjoint across runs. */
const RUN_KEYS = 100_000;
/** A run whose kill trigger has not come by then is stuck (recovery or writes hang). */
const RUN_DEADLINE_MS = 30_000;

/** When to kill: after a delay from a milestone line, or after a number of acknowledgements. */
type KillPlan =
  | { readonly after: 'spawn' | 'opening' | 'started' | 'ready'; readonly delayMs: number }
  | { readonly after: 'acks'; readonly count: number };

/** Where the child was when the kill landed: the last milestone it had printed. */
type Phase = 'loading' | 'recovering' | 'checking' | 'writing';

interface RunResult {
  readonly phase: Phase;
  readonly acked: number[];
  readonly errors: number;
  readonly churns: number;
  readonly checked: boolean;
  readonly lines: number;
}

function plan(run: number, rng: SeededRandom): KillPlan {
  // Cycle through the kinds so every kind gets its share of the kills; the moments are random.
  switch (run % 5) {
    case 0:
      return { after: 'spawn', delayMs: 100 + rng.nextInt(700) };
    case 1:
      // Cluster.start (opening the stores, reconciling them) takes some tens of ms.
      return { after: 'opening', delayMs: rng.nextInt(60) };
    case 2:
      return { after: 'started', delayMs: rng.nextInt(250) };
    case 3:
      return { after: 'acks', count: 1 + rng.nextInt(250) };
    default:
      return { after: 'ready', delayMs: rng.nextInt(1500) };
  }
}

/** Children not yet known to be dead: killed after a test that failed or timed out. */
const running = new Set<ChildProcess>();
afterEach(() => {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
});

/** How long Cluster.start took in each child that got that far. */
const startMs: number[] = [];

function runChild(options: CrashChildOptions, kill: KillPlan): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const acked: number[] = [];
    let phase: Phase = 'loading';
    let killedIn: Phase | null = null;
    let errors = 0;
    let churns = 0;
    let checked = false;
    let lines = 0;
    let buffered = '';
    let stderr = '';
    const failures: string[] = [];
    const timers: NodeJS.Timeout[] = [];
    const killNow = () => {
      if (killedIn !== null) return;
      killedIn = phase;
      child.kill('SIGKILL');
    };
    const killAfter = (ms: number) => timers.push(setTimeout(killNow, ms));
    timers.push(
      setTimeout(() => {
        failures.push(`no kill trigger (${JSON.stringify(kill)}) within ${RUN_DEADLINE_MS} ms; last phase ${phase}`);
        killNow();
      }, RUN_DEADLINE_MS),
    );
    if (kill.after === 'spawn') killAfter(kill.delayMs);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const all = buffered.split('\n');
      buffered = all.pop()!;
      for (const line of all) {
        lines++;
        const [word, arg] = line.split(' ', 2);
        if (word === 'ack') {
          acked.push(Number(arg));
          if (kill.after === 'acks' && acked.length === kill.count) killNow();
        } else if (word === 'error') errors++;
        else if (word === 'stop') churns++;
        else if (word === 'checked') checked = true;
        else if (word === 'started') startMs.push(Number(arg));
        else if (word === 'violation' || word === 'fatal' || word === 'expired') failures.push(line);
        const milestone = ({ opening: 'recovering', started: 'checking', ready: 'writing' } as const)[word as 'opening' | 'started' | 'ready'];
        if (milestone) {
          phase = milestone;
          if (kill.after !== 'acks' && kill.after === word) killAfter(kill.delayMs);
        }
      }
    });
    // 'close' comes after stdout ended: every line the child wrote before it died has been read.
    child.on('close', (code, signal) => {
      running.delete(child);
      for (const t of timers) clearTimeout(t);
      if (failures.length > 0) return reject(new Error(`child failed:\n${failures.join('\n')}\nstderr:\n${stderr}`));
      if (signal !== 'SIGKILL' || killedIn === null) return reject(new Error(`child exited by itself (code ${code}, signal ${signal}):\n${stderr}`));
      resolve({ phase: killedIn, acked, errors, churns, checked, lines });
    });
  });
}

/** Opens the directory in this process, checks it against everything acknowledged, closes it. */
async function checkHere(dir: string, acked: ReadonlySet<number>, tag: string) {
  const cluster = track(await Cluster.start({ ...CRASH_CLUSTER, dir }));
  try {
    const result = await checkCluster(cluster, acked, `probe-${tag}`);
    expect(result.problems).toEqual([]);
    return result;
  } finally {
    await cluster.close();
  }
}

describe('a durable cluster killed with SIGKILL at random moments', () => {
  it(`loses no acknowledged write and applies nothing twice across ${KILLS} kills`, async () => {
    const t0 = performance.now();
    const rng = new SeededRandom(SEED);
    const dir = tempDir();
    const data = path.join(dir, 'cluster');
    const ledger = path.join(dir, 'acked.json');
    const acked = new Set<number>();
    const phases: Record<Phase, number> = { loading: 0, recovering: 0, checking: 0, writing: 0 };
    let errors = 0;
    let churns = 0;
    let childChecks = 0;
    let parentChecks = 0;
    const perRun: string[] = [];

    for (let run = 0; run < KILLS; run++) {
      fs.writeFileSync(ledger, JSON.stringify([...acked]));
      const kill = plan(run, rng);
      const options: CrashChildOptions = {
        dir: data,
        seed: rng.nextUint32(),
        base: run * RUN_KEYS,
        ledger,
        churn: run % 2 === 1,
        maxLifeMs: 2 * RUN_DEADLINE_MS,
      };
      const r = await runChild(options, kill);
      for (const i of r.acked) {
        expect(i).toBeGreaterThanOrEqual(options.base);
        expect(acked.has(i)).toBe(false);
        acked.add(i);
      }
      phases[r.phase]++;
      errors += r.errors;
      churns += r.churns;
      if (r.checked) childChecks++;
      perRun.push(`${kill.after}${kill.after === 'acks' ? `=${kill.count}` : `+${kill.delayMs}ms`}:${r.phase}:${r.acked.length}`);
      if (run % CHECK_EVERY === CHECK_EVERY - 1 && run !== KILLS - 1) {
        await checkHere(data, acked, `run-${run}`);
        parentChecks++;
      }
    }

    // Final verification of every key ever acknowledged, in this process.
    const final = await checkHere(data, acked, 'final');
    parentChecks++;
    const wallMs = performance.now() - t0;
    console.log(
      [
        `crash safety: ${KILLS} kills (${Object.entries(phases).map(([p, n]) => `${p} ${n}`).join(', ')}), ${acked.size} acknowledged writes, ${errors} failed puts, ${churns} leader stops`,
        `  checks passed: ${childChecks} in the restarted child, ${parentChecks} in the test; final: ${final.present} keys k<i> present (${final.unacknowledged} applied but never acknowledged), ${final.events} events, applied index ${final.appliedIndex}`,
        `  runs (trigger:phase at kill:acks): ${perRun.join(' ')}`,
        `  Cluster.start in the child: ${startMs.length ? `${Math.min(...startMs)}-${Math.max(...startMs)} ms` : 'never reached'}; ${(wallMs / 1000).toFixed(1)} s in all`,
      ].join('\n'),
    );

    expect(final.present).toBeGreaterThanOrEqual(acked.size);
    // The kills landed in every phase, startup and recovery included.
    expect(phases.loading + phases.recovering).toBeGreaterThanOrEqual(3);
    expect(phases.checking).toBeGreaterThanOrEqual(2);
    expect(phases.writing).toBeGreaterThanOrEqual(8);
    expect(acked.size).toBeGreaterThanOrEqual(200);
    expect(childChecks).toBeGreaterThanOrEqual(KILLS / 4);
  }, 300_000);

  it('the check itself catches a lost acknowledged key, a key written twice, a wrong value and a deleted key', async () => {
    const cluster = await startCluster({ ...CRASH_CLUSTER });
    const kv = cluster.client();
    await kv.put('k1', 'v1'); // fine
    await kv.put('k2', 'v2');
    await kv.put('k2', 'v2'); // applied twice: version 2, two put events
    await kv.put('k3', 'v3');
    await kv.delete('k3'); // gone, with a put and a delete event
    await kv.put('k5', 'v6'); // wrong value
    const { problems } = await checkCluster(cluster, [1, 2, 4], 'probe');
    const text = problems.join('\n');
    expect(text).toMatch(/acknowledged key k4 is missing/);
    expect(text).toMatch(/k2 was written more than once: version 2/);
    expect(text).toMatch(/k2 has put events at revisions \[\d+, \d+\]/);
    expect(text).toMatch(/k3 has put events at \[\d+\] but no record/);
    expect(text).toMatch(/k5 holds "v6", expected "v5"/);
    expect(text).not.toMatch(/k1\b/);
  });
});
