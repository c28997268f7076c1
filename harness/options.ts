/** The harness's command line (`npm run harness -- --nodes 3 --seconds 60 ...`), parsed and checked. */
import { parseArgs } from 'node:util';
import { parseFaultKinds, type FaultKind } from './nemesis.ts';
import { DEFAULT_OP_TIMEOUT_MS, MAX_OP_TIMEOUT_MS } from './workload.ts';

export const USAGE = `usage: npm run harness -- [options]
Spawns real \`tessera serve\` processes on loopback ports, runs concurrent remote clients that
record a history, injects real faults, then heals, waits for convergence and checks.

options:
  --nodes N          cluster size (default 3; 1..9)
  --seconds S        how long clients and faults run (default 60; 1..3600)
  --nemesis LIST     comma list of kill, pause, partition, oneway, bridge; or all, none
                     (default all). partition cuts a node off both ways; oneway cuts one
                     direction between a node and some or all of the others; bridge splits the
                     nodes into two sides that reach each other only through one bridge node
  --seed N           seeds the fault schedule and the clients' choices (default 1)
  --clients K        concurrent client processes (default 6; 1..64)
  --keys N           keys the clients work on (default 5; 1..1000)
  --tick-ms N        the nodes' Raft tick (default 50; elections after 10-20 ticks)
  --op-timeout-ms N  a client operation's timeout (default 5000); a write that times out is 'info'
  --lease-drift F    start the nodes with --lease-drift F (lease reads on) and make half the
                     clients' reads lease reads (default: off, every read is linearizable)
  --history FILE     write the history (JSON Lines) there (default: history.jsonl in the run's directory)
  --dir DIR          where to make the run's temporary directory (default: the system's)
  --keep             keep the run's directory (data, logs, history); it is also kept when a check fails
  --help

The last line printed is JSON {"ops","acked","lost","violations","faults"}.
Exit status: 0 all checks passed, 1 a violation or a lost write, 2 the harness could not run or decide.`;

export interface HarnessOptions {
  readonly nodes: number;
  readonly seconds: number;
  readonly nemesis: readonly FaultKind[];
  readonly seed: number;
  readonly clients: number;
  readonly keys: number;
  readonly tickMs: number;
  readonly opTimeoutMs: number;
  /** Lease reads on, trusting clocks to drift by at most this fraction; undefined: off. */
  readonly leaseDrift: number | undefined;
  readonly history: string | undefined;
  readonly dir: string | undefined;
  readonly keep: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type ParsedArgs = { readonly help: true } | { readonly help: false; readonly options: HarnessOptions };

export function parseHarnessArgs(argv: readonly string[]): ParsedArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        nodes: { type: 'string', default: '3' },
        seconds: { type: 'string', default: '60' },
        nemesis: { type: 'string', default: 'all' },
        seed: { type: 'string', default: '1' },
        clients: { type: 'string', default: '6' },
        keys: { type: 'string', default: '5' },
        'tick-ms': { type: 'string', default: '50' },
        'op-timeout-ms': { type: 'string', default: String(DEFAULT_OP_TIMEOUT_MS) },
        'lease-drift': { type: 'string' },
        history: { type: 'string' },
        dir: { type: 'string' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return { help: true };
  let nemesis: FaultKind[];
  try {
    nemesis = parseFaultKinds(values.nemesis);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return {
    help: false,
    options: {
      nodes: int('nodes', values.nodes, 1, 9),
      seconds: int('seconds', values.seconds, 1, 3600),
      nemesis,
      seed: int('seed', values.seed, 0, Number.MAX_SAFE_INTEGER),
      clients: int('clients', values.clients, 1, 64),
      keys: int('keys', values.keys, 1, 1000),
      tickMs: int('tick-ms', values['tick-ms'], 1, 10_000),
      opTimeoutMs: int('op-timeout-ms', values['op-timeout-ms'], 100, MAX_OP_TIMEOUT_MS),
      leaseDrift: values['lease-drift'] === undefined ? undefined : fraction('lease-drift', values['lease-drift']),
      history: values.history,
      dir: values.dir,
      keep: values.keep,
    },
  };
}

function int(name: string, text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}, got ${JSON.stringify(text)}`);
  return n;
}

function fraction(name: string, text: string): number {
  const n = /^\d*\.?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(Number.isFinite(n) && n >= 0 && n < 1)) throw new UsageError(`--${name} must be a number in [0, 1), got ${JSON.stringify(text)}`);
  return n;
}
