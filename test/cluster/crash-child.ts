/**
 * Child process of crash-safety.test.ts, run as `node --import tsx crash-child.ts <options JSON>`.
 * It reopens (or creates) a 3-node Cluster in a fixed directory, checks what it recovered
 * against the keys acknowledged so far (crash-check.ts), then writes keys `k<i>` = `v<i>` from
 * `base` on, sequentially and in small concurrent bursts, until the parent kills it with SIGKILL.
 *
 * Every line goes out with a synchronous write to fd 1, so a line is in the pipe before the
 * next statement runs: `ack <i>` is printed only after put('k<i>') resolved, and a kill can
 * never lose an ack line that was printed. Lines:
 *   opening | started <ms> | checked <JSON> | violation <JSON> | ready
 *   ack <i> | error <i> <code> | stop <node> | start <node> | fatal <message> | expired
 */
import fs from 'node:fs';
import { Cluster } from '../../src/cluster/cluster.ts';
import { isTesseraError } from '../../src/errors.ts';
import { SeededRandom } from '../util/seeded-random.ts';
import { checkCluster, CRASH_CLUSTER, type CrashChildOptions } from './crash-check.ts';

const say = (line: string): void => {
  fs.writeSync(1, `${line}\n`);
};

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2] ?? '') as CrashChildOptions;
  const rng = new SeededRandom(o.seed);
  const acked = JSON.parse(fs.readFileSync(o.ledger, 'utf8')) as number[];
  setTimeout(() => {
    say('expired');
    process.exit(3);
  }, o.maxLifeMs).unref();

  say('opening');
  const t0 = performance.now();
  const cluster = await Cluster.start({
    ...CRASH_CLUSTER,
    dir: o.dir,
    onNodeFailure: (id, e) => say(`fatal node ${id}: ${e.message.replace(/\n/g, ' ')}`),
  });
  say(`started ${(performance.now() - t0).toFixed(0)}`);

  const check = await checkCluster(cluster, acked, `probe-child-${o.base}`);
  const { problems, ...figures } = check;
  say(problems.length === 0 ? `checked ${JSON.stringify(figures)}` : `violation ${JSON.stringify(problems)}`);
  if (problems.length > 0) process.exit(1);
  say('ready');

  const kv = cluster.client();
  let next = o.base;
  const put = async (i: number): Promise<void> => {
    try {
      await kv.put(`k${i}`, `v${i}`);
      say(`ack ${i}`);
    } catch (e) {
      // Outcome unknown (TIMEOUT) or not applied: either way k<i> is never written again.
      say(`error ${i} ${isTesseraError(e) ? e.code : String(e)}`);
    }
  };
  const churn = async (): Promise<void> => {
    const leader = cluster.leader();
    if (leader === 0) return;
    say(`stop ${leader}`);
    await cluster.stopNode(leader);
    await new Promise((r) => setTimeout(r, 50 + rng.nextInt(200)));
    await cluster.startNode(leader);
    say(`start ${leader}`);
  };
  let churning: Promise<void> | null = null;
  for (;;) {
    const r = rng.nextFloat();
    if (r < 0.15) {
      // A burst of 2-5 concurrent writes, acknowledged in whatever order they complete.
      const n = 2 + rng.nextInt(4);
      const burst = Array.from({ length: n }, () => put(next++));
      await Promise.all(burst);
    } else {
      await put(next++);
    }
    if (o.churn && churning === null && rng.nextFloat() < 0.02) churning = churn().finally(() => (churning = null));
  }
}

main().catch((e: unknown) => {
  say(`fatal ${e instanceof Error ? (e.stack ?? e.message).replace(/\n/g, ' | ') : String(e)}`);
  process.exit(2);
});
