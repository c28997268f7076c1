/**
 * `npm start` (for now): a 5-node simulated cluster, in virtual time, through a leader crash
 * and a partition, printed as a timeline, then the checkers' verdict. Runs in about a second.
 */
import { parseFaults, type TimedAction } from '../cluster/nemesis.ts';
import type { SimCluster } from '../cluster/sim-cluster.ts';
import { formatEvent } from '../cluster/timeline.ts';
import { ENVIRONMENT, type Simulator, US_PER_MS } from '../core/simulator.ts';
import { runSimulation } from '../run.ts';

const SEED = Number(process.env.SEED ?? 42);
const schedule: TimedAction[] = [
  { atMs: 6_000, action: { kind: 'crash', node: 0 } }, // whoever leads
  { atMs: 14_000, action: { kind: 'isolate', node: 0 } }, // the new leader loses its quorum
  { atMs: 22_000, action: { kind: 'heal' } },
  { atMs: 26_000, action: { kind: 'restart', node: 1 } },
  { atMs: 26_000, action: { kind: 'restart', node: 2 } },
  { atMs: 26_000, action: { kind: 'restart', node: 3 } },
  { atMs: 26_000, action: { kind: 'restart', node: 4 } },
  { atMs: 26_000, action: { kind: 'restart', node: 5 } },
];

let lastCommitLine = '';
function sampler(cluster: SimCluster, sim: Simulator): void {
  const tick = () => {
    const leader = cluster.leader();
    const node = leader ? cluster.node(leader) : null;
    const line = node
      ? `leader ${leader} (term ${node.raft.term}) has committed through index ${node.raft.log.committed}`
      : 'no leader: writes wait';
    if (line !== lastCommitLine) console.log(`${(sim.nowMs() / 1000).toFixed(3).padStart(9)}s  ${line}`);
    lastCommitLine = line;
    sim.schedule(2_000 * US_PER_MS, ENVIRONMENT, tick);
  };
  sim.schedule(500 * US_PER_MS, ENVIRONMENT, tick);
}

console.log(`Tessera simulator: 5 nodes on a virtual clock, seed ${SEED}; election timeout 1 s, heartbeat 100 ms`);
console.log('Clients put/get/cas/delete 5 keys throughout; faults: leader crash at 6 s, partition of the new leader at 14 s, heal at 22 s.\n');
const r = runSimulation({
  seed: SEED,
  nodes: 5,
  ops: 600,
  faults: parseFaults('crash,partition,torn'),
  schedule,
  onEvent: (e) => {
    // Crashes and restarts are reported by the nodes themselves; skip the nemesis's echo of them.
    if (e.kind === 'nemesis' && /^(crash|restart)/.test(e.detail)) return;
    if (e.kind === 'snapshot') return;
    console.log(formatEvent(e));
  },
  observe: sampler,
});

const failover = r.failoverMs.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(', ') || 'n/a';
console.log(`
Verdict after ${(r.simulatedMs / 1000).toFixed(1)} simulated seconds (${r.wallMs} ms of wall time):
  operations ${r.ops}, acknowledged writes ${r.acked}, unknown outcomes ${r.info}, elections ${r.elections}
  leader crash to next committed client write: ${failover}
  election safety, log matching, leader completeness, state-machine safety, monotonic commit/apply,
  no acknowledged write lost, linearizability: ${r.violations.length === 0 ? 'all hold' : 'VIOLATED'}
  trace hash ${r.traceHash} (run again with SEED=${SEED} for the same hash)`);
for (const v of r.violations) console.log(`  ! ${v}`);
process.exit(r.violations.length === 0 ? 0 : 1);
