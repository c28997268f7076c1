/**
 * The discrete-event loop. Virtual time is an integer number of MICROSECONDS (`US_PER_MS` per ms):
 * integers make ties exact and keep long runs free of float accumulation, and microseconds are fine
 * enough for sub-millisecond network latencies. The `Clock` handed to nodes speaks milliseconds.
 *
 * Every event belongs to a target: a node id, or 0 for the environment (nemesis, clients).
 * - pause(target): its events are held as they come due, in order, and re-queued on resume.
 * - crash(target): bumps its incarnation; events captured under an older incarnation are dropped
 *   when they come due (lazy, so crash is O(held) and needs no index of events by target).
 * Handler exceptions propagate out of `run`: a failing invariant must stop the simulation.
 */
import { assert } from '../../src/util/assert.ts';
import { EventQueue } from './event-queue.ts';
import { SimClock, SkewModel, US_PER_MS, type ClockSkew, type TimerScheduler } from './skewed-clock.ts';

export { US_PER_MS, type ClockSkew } from './skewed-clock.ts';

/** The target of events that belong to no node: nemesis, workload clients, checkers. */
export const ENVIRONMENT = 0;

export interface RunOptions {
  /** Virtual time (µs, absolute) up to which to run, inclusive. */
  until?: number;
  /** Stop after this many handlers have run. */
  maxEvents?: number;
  /** Checked before each event; stops the run when it returns true. */
  stopWhen?: () => boolean;
}

interface SimEvent {
  readonly fn: () => void;
  readonly target: number;
  readonly incarnation: number;
  cancelled: boolean;
  /** Id in the queue; changes when a held event is re-queued. */
  qid: number;
}

interface TargetState {
  incarnation: number;
  paused: boolean;
  held: SimEvent[];
}

export class Simulator implements TimerScheduler {
  private readonly queue = new EventQueue<SimEvent>();
  private readonly targets = new Map<number, TargetState>();
  private readonly skews = new Map<number, SkewModel>();
  private time = 0;
  private running = false;
  private executed = 0;

  /** Current virtual time in µs. */
  now(): number {
    return this.time;
  }

  /** Current virtual time in ms (may be fractional). */
  nowMs(): number {
    return this.time / US_PER_MS;
  }

  /** Handlers run so far, over all `run` calls. */
  get eventsRun(): number {
    return this.executed;
  }

  /** Events queued or held (including not-yet-discarded events of crashed incarnations). */
  get pending(): number {
    let held = 0;
    for (const state of this.targets.values()) held += state.held.length;
    return this.queue.size + held;
  }

  /**
   * Runs `fn` as an event of `target` after `delayUs` (a non-negative integer). Returns a cancel
   * function; cancelling an event that already ran or was dropped is a no-op.
   */
  schedule(delayUs: number, target: number, fn: () => void): () => void {
    assert(Number.isSafeInteger(delayUs) && delayUs >= 0, () => `delay must be an integer >= 0 µs, got ${delayUs}`);
    const event: SimEvent = { fn, target, incarnation: this.state(target).incarnation, cancelled: false, qid: 0 };
    event.qid = this.queue.push(this.time + delayUs, event);
    return () => {
      if (event.cancelled) return;
      event.cancelled = true;
      this.queue.cancel(event.qid);
    };
  }

  pause(target: number): void {
    assert(target !== ENVIRONMENT, 'the environment cannot be paused');
    this.state(target).paused = true;
  }

  /** Releases held events at the current time, in the order they came due. Idempotent. */
  resume(target: number): void {
    const state = this.state(target);
    if (!state.paused) return;
    state.paused = false;
    const held = state.held;
    state.held = [];
    for (const event of held) {
      if (event.cancelled || event.incarnation !== state.incarnation) continue;
      event.qid = this.queue.push(this.time, event);
    }
  }

  isPaused(target: number): boolean {
    return this.targets.get(target)?.paused ?? false;
  }

  /**
   * Drops every pending event of `target`, held ones included. Also ends a pause: the process that
   * was stopped is gone, and its successor starts running. The clock skew (the machine's) persists.
   */
  crash(target: number): void {
    assert(target !== ENVIRONMENT, 'the environment cannot crash');
    const state = this.state(target);
    state.incarnation++;
    state.paused = false;
    state.held = [];
  }

  incarnation(target: number): number {
    return this.targets.get(target)?.incarnation ?? 0;
  }

  /**
   * Runs events in (time, sequence) order until the queue is empty or a limit is hit; returns how
   * many handlers ran. With `until`, time advances to `until` unless the run stopped early
   * because of `maxEvents` or `stopWhen`.
   */
  run(options: RunOptions = {}): number {
    assert(!this.running, 'Simulator.run is not reentrant');
    const { until, maxEvents = Number.POSITIVE_INFINITY, stopWhen } = options;
    assert(until === undefined || until >= this.time, () => `run until ${until} is in the past (now ${this.time})`);
    this.running = true;
    let ran = 0;
    let stoppedEarly = false;
    try {
      for (;;) {
        if (ran >= maxEvents || (stopWhen !== undefined && stopWhen())) {
          stoppedEarly = true;
          break;
        }
        const time = this.queue.peekTime();
        if (time === undefined || (until !== undefined && time > until)) break;
        const event = this.queue.pop() as SimEvent;
        this.time = time;
        const state = this.state(event.target);
        if (event.incarnation !== state.incarnation) continue;
        if (state.paused) {
          state.held.push(event);
          continue;
        }
        ran++;
        this.executed++;
        event.fn();
      }
    } finally {
      this.running = false;
    }
    if (!stoppedEarly && until !== undefined && until > this.time) this.time = until;
    return ran;
  }

  /**
   * The `Clock` of `target`'s machine. All clocks of a target share one skew (a restarted node
   * keeps its machine's clock); `skew`, if given, is applied as by `setSkew`, except that the
   * first call defines the clock outright (offset may be negative then).
   */
  clockFor(target: number, skew?: ClockSkew): SimClock {
    const model = this.skews.get(target);
    if (model === undefined) {
      this.skews.set(target, new SkewModel(this.time, skew));
    } else if (skew !== undefined) {
      model.set(this.time, skew);
    }
    return new SimClock(this, target, this.skewOf(target));
  }

  /** Changes a machine's drift and/or offset from now on, keeping its clock continuous and monotonic. */
  setSkew(target: number, skew: ClockSkew): void {
    this.skewOf(target).set(this.time, skew);
  }

  /** `target`'s local clock reading, in ms. */
  localTimeMs(target: number): number {
    return this.skewOf(target).localUs(this.time) / US_PER_MS;
  }

  private skewOf(target: number): SkewModel {
    let model = this.skews.get(target);
    if (model === undefined) {
      model = new SkewModel(this.time);
      this.skews.set(target, model);
    }
    return model;
  }

  private state(target: number): TargetState {
    let state = this.targets.get(target);
    if (state === undefined) {
      assert(Number.isSafeInteger(target) && target >= 0, () => `target must be an integer >= 0, got ${target}`);
      state = { incarnation: 0, paused: false, held: [] };
      this.targets.set(target, state);
    }
    return state;
  }
}
