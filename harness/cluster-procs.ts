/**
 * N `tessera serve` child processes on loopback ports: each with its own data directory, the
 * cluster's secret file and id, and its stderr (JSON-line logs) appended to `n<id>.log`. The
 * harness can SIGKILL a node and restart it (same directory, same flags, same port), SIGSTOP and
 * SIGCONT it, and wait until it is listening (its "started" log line).
 *
 * Cleanup: killAllSync() (for process 'exit' handlers: no awaiting there) and stopAll() SIGCONT a
 * paused child first, then SIGKILL every child. A child that exits when the harness did not kill
 * it (a node failure: exit 1 after a fatal error) is recorded in `unexpectedExits`; the harness
 * reports those as violations. If the harness itself is SIGKILLed its children are orphaned:
 * nothing in a dying process can prevent that (the `tessera serve` command has no parent watch).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeId } from '../src/raft/types.ts';
import { LOOPBACK } from './ports.ts';
import { within } from './time.ts';

export const TESSERA_BIN = fileURLToPath(new URL('../bin/tessera.mjs', import.meta.url));
/** How long a node gets to print "started" (tsx compiles on the first start: seconds on a slow machine). */
export const DEFAULT_START_TIMEOUT_MS = 30_000;
/** How long a SIGKILLed child gets to be reaped. */
export const EXIT_TIMEOUT_MS = 5_000;
/** Longest partial log line kept while looking for "started" (a longer line is only written to the file). */
const MAX_SCAN_LINE_CHARS = 64 * 1024;
const STARTED = '"msg":"started"';

export type NodeState = 'stopped' | 'starting' | 'running' | 'paused';

export interface ClusterProcsOptions {
  readonly ids: readonly NodeId[];
  /** Each node's public (client and peer) port on loopback. */
  readonly ports: ReadonlyMap<NodeId, number>;
  /** Each node's `--peers` value (the harness points them at its proxies). */
  readonly peersFlag: (id: NodeId) => string;
  /** Base directory: data in `<dir>/n<id>`, logs in `<dir>/n<id>.log`. */
  readonly dir: string;
  readonly secretFile: string;
  readonly clusterId: string;
  readonly tickMs?: number;
  readonly electionTick?: number;
  /** `--lease-drift`: lease reads on. */
  readonly leaseDrift?: number;
  readonly startTimeoutMs?: number;
}

export interface UnexpectedExit {
  readonly id: NodeId;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly atMs: number;
}

interface Proc {
  readonly id: NodeId;
  child: ChildProcess | null;
  state: NodeState;
  incarnation: number;
  /** Set while the harness itself is killing this incarnation. */
  killing: boolean;
  exited: Promise<void>;
}

export class ClusterProcs {
  readonly unexpectedExits: UnexpectedExit[] = [];
  private readonly procs = new Map<NodeId, Proc>();
  private readonly t0 = performance.now();

  constructor(readonly o: ClusterProcsOptions) {
    fs.mkdirSync(o.dir, { recursive: true });
    for (const id of o.ids) this.procs.set(id, { id, child: null, state: 'stopped', incarnation: 0, killing: false, exited: Promise.resolve() });
  }

  get ids(): readonly NodeId[] {
    return this.o.ids;
  }

  port(id: NodeId): number {
    const p = this.o.ports.get(id);
    if (p === undefined) throw new RangeError(`no port for node ${id}`);
    return p;
  }

  state(id: NodeId): NodeState {
    return this.proc(id).state;
  }

  /** The OS pid of the node's current process, undefined while stopped. */
  pid(id: NodeId): number | undefined {
    return this.proc(id).child?.pid;
  }

  logFile(id: NodeId): string {
    return path.join(this.o.dir, `n${id}.log`);
  }

  /** Starts every node at once; resolves when all are listening. */
  async startAll(): Promise<void> {
    await Promise.all(this.o.ids.map((id) => this.start(id)));
  }

  /** Spawns node `id` (it must be stopped) and resolves once it logs "started". */
  start(id: NodeId): Promise<void> {
    const p = this.proc(id);
    if (p.state !== 'stopped') return Promise.reject(new Error(`node ${id} is ${p.state}, not stopped`));
    p.incarnation++;
    p.killing = false;
    p.state = 'starting';
    const args = [
      TESSERA_BIN,
      'serve',
      '--id', String(id),
      '--listen', `${LOOPBACK}:${this.port(id)}`,
      '--peers', this.o.peersFlag(id),
      '--dir', path.join(this.o.dir, `n${id}`),
      '--secret-file', this.o.secretFile,
      '--cluster-id', this.o.clusterId,
      ...(this.o.tickMs !== undefined ? ['--tick-ms', String(this.o.tickMs)] : []),
      ...(this.o.electionTick !== undefined ? ['--election-tick', String(this.o.electionTick)] : []),
      ...(this.o.leaseDrift !== undefined ? ['--lease-drift', String(this.o.leaseDrift)] : []),
    ];
    const log = fs.createWriteStream(this.logFile(id), { flags: 'a' });
    log.on('error', () => {}); // a full disk must not take the harness down; the run still checks
    log.write(`${JSON.stringify({ harness: 'spawn', node: id, incarnation: p.incarnation, time: new Date().toISOString() })}\n`);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    p.child = child;

    let started = false;
    let partial = '';
    let onStarted: () => void = () => {};
    const startedPromise = new Promise<void>((resolve) => (onStarted = resolve));
    child.stderr!.on('data', (d: Buffer) => {
      log.write(d);
      if (started) return;
      const text = partial + d.toString('utf8');
      const lines = text.split('\n');
      partial = (lines.pop() ?? '').slice(-MAX_SCAN_LINE_CHARS);
      if (lines.some((l) => l.includes(STARTED))) {
        started = true;
        partial = '';
        onStarted();
      }
    });
    const exitedEarly = new Promise<never>((_, reject) => {
      p.exited = new Promise<void>((resolve) => {
        child.on('error', (e) => {
          log.write(`${JSON.stringify({ harness: 'spawn error', node: id, error: e.message })}\n`);
        });
        // 'close' comes after the child's stderr has been read to its end: the log is complete.
        child.on('close', (code, signal) => {
          if (p.child === child) {
            // A start that fails is the caller's error (start() rejects); only a node that was up counts here.
            if (!p.killing && p.state !== 'starting') this.unexpectedExits.push({ id, code, signal, atMs: Math.round(performance.now() - this.t0) });
            p.child = null;
            p.state = 'stopped';
          }
          log.end(`${JSON.stringify({ harness: 'exit', node: id, incarnation: p.incarnation, code, signal, time: new Date().toISOString() })}\n`);
          reject(new Error(`node ${id} exited (code ${code}, signal ${signal}) before it started; see ${this.logFile(id)}`));
          resolve();
        });
      });
    });
    exitedEarly.catch(() => {}); // only awaited while starting
    const timeoutMs = this.o.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`node ${id} did not start within ${timeoutMs} ms; see ${this.logFile(id)}`)), timeoutMs);
    });
    return Promise.race([startedPromise, exitedEarly, late]).then(
      () => {
        clearTimeout(timer);
        if (p.child === child && p.state === 'starting') p.state = 'running';
      },
      async (e: unknown) => {
        clearTimeout(timer);
        if (p.child === child) await this.kill(id);
        throw e;
      },
    );
  }

  /** SIGKILL (SIGCONT first if paused); resolves once the process is reaped. */
  async kill(id: NodeId): Promise<void> {
    const p = this.proc(id);
    const child = p.child;
    if (child === null) return;
    p.killing = true;
    if (p.state === 'paused') signal(child, 'SIGCONT');
    signal(child, 'SIGKILL');
    await within(p.exited, EXIT_TIMEOUT_MS, `node ${id} was not reaped within ${EXIT_TIMEOUT_MS} ms of SIGKILL`);
  }

  /** Starts node `id` again after a kill, with the same directory, flags and port. */
  restart(id: NodeId): Promise<void> {
    return this.start(id);
  }

  pause(id: NodeId): void {
    const p = this.proc(id);
    if (p.state !== 'running' || p.child === null) throw new Error(`cannot pause node ${id}: it is ${p.state}`);
    signal(p.child, 'SIGSTOP');
    p.state = 'paused';
  }

  resume(id: NodeId): void {
    const p = this.proc(id);
    if (p.state !== 'paused' || p.child === null) return;
    signal(p.child, 'SIGCONT');
    p.state = 'running';
  }

  /** Every node that is not running is resumed (if paused) or started (if stopped). */
  async reviveAll(): Promise<void> {
    for (const id of this.o.ids) if (this.state(id) === 'paused') this.resume(id);
    await Promise.all(this.o.ids.filter((id) => this.state(id) === 'stopped').map((id) => this.start(id)));
  }

  /** Kills every child and waits for them (bounded). Idempotent. */
  async stopAll(): Promise<void> {
    await Promise.allSettled(this.o.ids.map((id) => this.kill(id)));
  }

  /** For process 'exit' and signal handlers: SIGCONT + SIGKILL every child, without waiting. */
  killAllSync(): void {
    for (const p of this.procs.values()) {
      if (p.child === null) continue;
      p.killing = true;
      signal(p.child, 'SIGCONT');
      signal(p.child, 'SIGKILL');
    }
  }

  private proc(id: NodeId): Proc {
    const p = this.procs.get(id);
    if (p === undefined) throw new RangeError(`no node ${id}`);
    return p;
  }
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    child.kill(sig);
  } catch {
    // Already gone: the exit handler records it.
  }
}
