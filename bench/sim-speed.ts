/**
 * `npm run bench:sim`: simulator throughput for 5 nodes with every fault on.
 * Reports simulated time / wall time and seeds per minute at --ops (default 1000).
 * Last line JSON: {"seeds","ops","simulatedMs","wallMs","simPerWall","cpuMs","simPerCpu","seedsPerMinute"}.
 */
import { parseArgs } from 'node:util';
import { parseFaults } from '../sim/cluster/nemesis.ts';
import { runSimulation } from '../sim/run.ts';

const { values } = parseArgs({ options: { seeds: { type: 'string', default: '50' }, ops: { type: 'string', default: '1000' } } });
const seeds = Number(values.seeds);
const ops = Number(values.ops);
const faults = parseFaults('all');
runSimulation({ seed: 1_000_000, nodes: 5, ops: 200, faults }); // warm up the JIT outside the measurement
const start = performance.now();
const cpuStart = process.cpuUsage();
let simulatedMs = 0;
for (let seed = 1; seed <= seeds; seed++) {
  const r = runSimulation({ seed, nodes: 5, ops, faults });
  if (r.violations.length > 0) throw new Error(`seed ${seed}: ${r.violations[0]}`);
  simulatedMs += r.simulatedMs;
}
const wallMs = performance.now() - start;
const cpu = process.cpuUsage(cpuStart);
// CPU time of this process: what the ratio would be on an otherwise idle core (the machine is shared).
const cpuMs = (cpu.user + cpu.system) / 1000;
const out = {
  seeds,
  ops,
  simulatedMs,
  wallMs: Math.round(wallMs),
  simPerWall: Math.round(simulatedMs / wallMs),
  cpuMs: Math.round(cpuMs),
  simPerCpu: Math.round(simulatedMs / cpuMs),
  seedsPerMinute: Math.round((seeds / wallMs) * 60_000),
};
console.log(`${seeds} seeds x ${ops} ops, 5 nodes, all faults: ${(simulatedMs / 1000).toFixed(0)} s simulated in ${(wallMs / 1000).toFixed(1)} s wall`);
console.log(`  simulated/wall ${out.simPerWall}x (simulated/CPU ${out.simPerCpu}x), ${out.seedsPerMinute} seeds per minute`);
console.log(JSON.stringify(out));
