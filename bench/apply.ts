/**
 * `npm run bench:apply`: what applying a put costs one node's LMDB state machine, as a real node
 * runs it (asynchronous commits, lazy meta sync), in the steady state of a long-lived node: the
 * watch history already full, so every batch also trims. In the in-process cluster of bench:kv
 * every put is applied three times on one event loop, so this is most of its per-put cost.
 *
 * Batches of --batch put entries (256-byte values over --keys keys, one session per writer, as
 * bench:kv's w64), each applied once the previous one has run: as a node, which goes on applying
 * while its grouped commit (STATE_COMMIT_WINDOW_MS) is still open. Same-run baseline: the same
 * keys and values written by raw putSync in the same grouped commits (an LmdbKvBackend opened
 * the same way, whose batches hold nothing but the puts). Prints entries/s, event-loop µs and
 * CPU µs (all threads) per entry for both; last line JSON {"applyPerSec","rawPerSec","ratio","loopUsPerApply","cpuUsPerApply"}.
 * Options: --seconds 4, --batch 64, --keys 4096, --history 100000 (events kept; filled first).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { EntryType, type Entry } from '../src/raft/types.ts';
import { encodeCommand } from '../src/store/kv-command.ts';
import { DEFAULT_KV_LIMITS } from '../src/store/kv-limits.ts';
import { LmdbKvBackend } from '../src/store/lmdb-kv-backend.ts';
import { LmdbKvStateMachine } from '../src/store/lmdb-kv.ts';
import { utf8 } from '../src/util/bytes.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    batch: { type: 'string', default: '64' },
    keys: { type: 'string', default: '4096' },
    history: { type: 'string', default: String(DEFAULT_KV_LIMITS.eventHistory) },
  },
});
const seconds = Number(values.seconds);
const batchSize = Number(values.batch);
const keyCount = Number(values.keys);
const history = Number(values.history);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-apply-'));
/** The first failed commit of either phase: reported at the end of the phase. */
let commitFailure: Error | undefined;
const noteCommit = (e?: Error): void => {
  if (e) commitFailure ??= e;
};
const value = new Uint8Array(256).fill(7);
const keys = Array.from({ length: keyCount }, (_, i) => utf8(`key-${String(i).padStart(6, '0')}`));
// A fixed pseudo-random key sequence, the same for both phases.
let seed = 12345;
const nextKey = (): Uint8Array => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return keys[seed % keyCount]!;
};

interface Measured {
  perSec: number;
  loopUs: number;
  cpuUs: number;
}

/** Time spent preparing batches, which a node does not spend applying: taken out of the figures. */
const preparing = { ms: 0, cpuUs: 0 };

function prepared<T>(make: () => T): T {
  const t = performance.now();
  const cpu = process.cpuUsage();
  const out = make();
  const used = process.cpuUsage(cpu);
  preparing.ms += performance.now() - t;
  preparing.cpuUs += used.user + used.system;
  return out;
}

/** Runs `step` (one batch) back to back for `seconds`; event-loop and CPU time per entry. */
async function measure(step: () => Promise<number>): Promise<Measured> {
  preparing.ms = 0;
  preparing.cpuUs = 0;
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) n += await step();
  const took = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  return {
    perSec: n / took,
    loopUs: ((elu.active - preparing.ms) * 1000) / n,
    cpuUs: (cpu.user + cpu.system - preparing.cpuUs) / n,
  };
}

async function applyPhase(): Promise<Measured> {
  const sm = LmdbKvStateMachine.open(path.join(root, 'state'), { asyncCommits: true, lazyMetaSync: true });
  const seqs = new Array<number>(batchSize).fill(0);
  let index = 0;
  // A node receives its entries encoded: encoding is not counted as applying.
  const nextBatch = (): Entry[] =>
    prepared(() =>
      seqs.map((_, w) => {
        const data = encodeCommand({ op: 'put', key: nextKey(), value, session: { client: `writer-${w}`, seq: ++seqs[w]! } });
        return { index: ++index, term: 1, type: EntryType.Normal, data };
      }),
    );
  // Resolved once the batch has run (its results are out); its commit is only checked.
  const apply = (entries: Entry[]): Promise<number> => new Promise((resolve) => sm.applyAsync!(entries, () => resolve(entries.length), noteCommit));
  // Fill the history (one event per put) so that every measured batch trims as well.
  while (index < history + batchSize) await apply(nextBatch());
  const m = await measure(() => apply(nextBatch()));
  await sm.close();
  if (commitFailure) throw commitFailure;
  return m;
}

async function rawPhase(): Promise<Measured> {
  const backend = LmdbKvBackend.open(path.join(root, 'raw'), { asyncCommits: true, lazyMetaSync: true });
  const step = (): Promise<number> => {
    const batch = prepared(() => Array.from({ length: batchSize }, () => nextKey()));
    return new Promise((resolve) =>
      backend.batchAsync!(() => {
        for (const k of batch) backend.put('data', k, value);
        resolve(batchSize);
      }, noteCommit),
    );
  };
  for (let i = 0; i < 50; i++) await step();
  const m = await measure(step);
  await backend.close();
  if (commitFailure) throw commitFailure;
  return m;
}

const apply = await applyPhase();
const raw = await rawPhase();
fs.rmSync(root, { recursive: true, force: true });
const row = (name: string, m: Measured) =>
  `${name.padEnd(44)}${Math.round(m.perSec).toLocaleString('en-US').padStart(9)}${m.loopUs.toFixed(1).padStart(10)}${m.cpuUs.toFixed(1).padStart(10)}`;
console.log(`bench:apply  ${batchSize} puts per batch, 256-byte values over ${keyCount} keys, history ${history} events (full), ${seconds} s`);
console.log(`${'phase'.padEnd(44)}${'ops/s'.padStart(9)}${'loop µs'.padStart(10)}${'cpu µs'.padStart(10)}`);
console.log(row('state machine apply (session put, one node)', apply));
console.log(row('raw LMDB putSync, same keys and batches', raw));
console.log(
  JSON.stringify({
    applyPerSec: Math.round(apply.perSec),
    rawPerSec: Math.round(raw.perSec),
    ratio: +(apply.perSec / raw.perSec).toFixed(3),
    loopUsPerApply: +apply.loopUs.toFixed(1),
    cpuUsPerApply: +apply.cpuUs.toFixed(1),
  }),
);
