/**
 * `npm run bench:failover`: how long a 5-node cluster takes from a leader crash to the next
 * committed client write, in election timeouts, over many seeds. Each seed crashes the leader
 * three times (restarting it in between) with no other fault.
 * Last line JSON: {"crashes","medianEt","p90Et","worstEt","electionTimeoutMs"}.
 */
import { parseArgs } from 'node:util';
import { parseFaults, type TimedAction } from '../sim/cluster/nemesis.ts';
import { DEFAULT_TIMINGS } from '../sim/cluster/sim-cluster.ts';
import { runSimulation } from '../sim/run.ts';

const { values } = parseArgs({ options: { seeds: { type: 'string', default: '100' } } });
const seeds = Number(values.seeds);
const et = DEFAULT_TIMINGS.tickMs * DEFAULT_TIMINGS.electionTick;
const schedule: TimedAction[] = [];
for (const [i, at] of [5_000, 15_000, 25_000].entries()) {
  schedule.push({ atMs: at, action: { kind: 'crash', node: 0 } });
  for (let n = 1; n <= 5; n++) schedule.push({ atMs: at + 5_000 + i, action: { kind: 'restart', node: n } });
}

const samples: number[] = [];
for (let seed = 1; seed <= seeds; seed++) {
  const r = runSimulation({ seed, nodes: 5, ops: 2500, faults: parseFaults('crash'), schedule, workload: { thinkMs: { min: 0, max: 200 } } });
  if (r.violations.length > 0) throw new Error(`seed ${seed}: ${r.violations.join('\n')}`);
  samples.push(...r.failoverMs.map((ms) => ms / et));
}
samples.sort((a, b) => a - b);
const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
console.log(`leader crash -> next committed write, ${samples.length} crashes over ${seeds} seeds (election timeout ${et} ms):`);
console.log(`  min ${samples[0]!.toFixed(2)}  median ${q(0.5).toFixed(2)}  p90 ${q(0.9).toFixed(2)}  worst ${samples[samples.length - 1]!.toFixed(2)} election timeouts`);
console.log(JSON.stringify({ crashes: samples.length, medianEt: +q(0.5).toFixed(3), p90Et: +q(0.9).toFixed(3), worstEt: +samples[samples.length - 1]!.toFixed(3), electionTimeoutMs: et }));
