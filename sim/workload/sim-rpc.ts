/**
 * Client requests to simulated nodes, sent the way kv-workload.ts sends them: the request is an
 * event of the target node (lost if it crashes, held while it is paused), the answer an event of
 * the environment, each after a client latency. An attempt that gets no answer in time, or an
 * error, is retried on another node (at once after a timeout or a leader hint, after an
 * exponential back-off otherwise) until the call's deadline; then the call ends without a value
 * and its effect, if it had one, is unknown.
 */
import { TesseraError, isTesseraError } from '../../src/errors.ts';
import type { RaftNode } from '../../src/node/raft-node.ts';
import type { NodeId } from '../../src/raft/types.ts';
import type { KvStateMachine } from '../../src/store/kv-state-machine.ts';
import type { SimCluster } from '../cluster/sim-cluster.ts';
import type { SeededRandom } from '../core/random.ts';
import { ENVIRONMENT, type Simulator, US_PER_MS } from '../core/simulator.ts';
import { MAX_BACKOFF_MS } from './kv-workload.ts';

export interface RpcTimings {
  /** One attempt's timeout before trying another node (ms). */
  readonly attemptTimeoutMs: number;
  /** Give up on a call after this long (ms). */
  readonly opTimeoutMs: number;
  /** One-way client <-> node latency (ms). */
  readonly clientDelayMs: { readonly min: number; readonly max: number };
}

/** A client's routing memory, shared by its calls (one call at a time per client). */
export interface RpcClient {
  leaderGuess: NodeId;
  /** Consecutive failed attempts, for exponential back-off. */
  failures: number;
}

export type Reply = (err: Error | null, value?: unknown) => void;

/**
 * Runs at the target node inside one of its events; calls `reply` once (an error means "try
 * another node"). It may defer the reply to a later event of the node (a read barrier, an apply).
 */
export type Serve = (node: RaftNode, sm: KvStateMachine, id: NodeId, reply: Reply) => void;

export type RpcOutcome = { readonly ok: true; readonly value: unknown; readonly node: NodeId } | { readonly ok: false };

export interface RpcCall {
  /** The caller is gone (a killed process): no retry, and no answer reaches `done`. */
  abandon(): void;
}

export class SimRpc {
  constructor(
    private readonly sim: Simulator,
    private readonly cluster: SimCluster,
    private readonly rng: SeededRandom,
    readonly timings: RpcTimings,
  ) {}

  randomNode(): NodeId {
    return this.rng.pick(this.cluster.ids);
  }

  /**
   * Sends a request to `first`, retrying elsewhere until it is answered or the deadline passes.
   * `toLeader`: the request needs the leader, so answers teach the client who leads.
   */
  call(client: RpcClient, serve: Serve, first: NodeId, toLeader: boolean, done: (o: RpcOutcome) => void): RpcCall {
    const started = this.sim.nowMs();
    let attempt = 0;
    let over = false;
    const finish = (o: RpcOutcome) => {
      if (over) return;
      over = true;
      done(o);
    };
    const retry = (target: NodeId, backoffMs: number) => {
      if (this.sim.nowMs() - started >= this.timings.opTimeoutMs) return finish({ ok: false });
      // Bumping the attempt number now silences the previous attempt during the back-off.
      const a = ++attempt;
      this.sim.schedule(Math.round(backoffMs * US_PER_MS), ENVIRONMENT, () => {
        if (!over && attempt === a) send(target, a);
      });
    };
    const onAnswer = (a: number, target: NodeId, err: Error | null, value: unknown) => {
      if (over || attempt !== a) return; // a stale attempt's answer
      if (err) {
        if (isTesseraError(err, 'NOT_LEADER') && err.leaderHint !== 0) {
          if (toLeader) client.leaderGuess = err.leaderHint;
          return retry(err.leaderHint, 0);
        }
        if (toLeader) client.leaderGuess = 0;
        const ceiling = Math.min(MAX_BACKOFF_MS, 10 * 2 ** Math.min(client.failures++, 10));
        return retry(this.nextNode(target), ceiling / 2 + this.rng.nextFloat() * (ceiling / 2));
      }
      client.failures = 0;
      if (toLeader) client.leaderGuess = target;
      finish({ ok: true, value, node: target });
    };
    const send = (target: NodeId, a: number) => {
      const reply: Reply = (err, value) => {
        this.sim.schedule(this.delayUs(), ENVIRONMENT, () => onAnswer(a, target, err, value));
      };
      this.sim.schedule(this.delayUs(), target, () => {
        const node = this.cluster.node(target);
        const sm = this.cluster.stateMachine(target);
        // A crashed process's port refuses connections at once (a paused one would just be silent).
        if (!node || !sm) return reply(new TesseraError('CLOSED', `node ${target} refused the connection`));
        serve(node, sm, target, reply);
      });
      this.sim.schedule(Math.round(this.timings.attemptTimeoutMs * US_PER_MS), ENVIRONMENT, () => {
        if (!over && attempt === a) retry(this.nextNode(target), 0);
      });
    };
    send(first, ++attempt);
    return {
      abandon: () => {
        over = true;
      },
    };
  }

  /** Endpoints are tried in turn, so a dead node costs one attempt per round, never several in a row. */
  private nextNode(after: NodeId): NodeId {
    const ids = this.cluster.ids;
    return ids[(ids.indexOf(after) + 1) % ids.length]!;
  }

  private delayUs(): number {
    const d = this.timings.clientDelayMs;
    return Math.round((d.min + this.rng.nextFloat() * (d.max - d.min)) * US_PER_MS);
  }
}
