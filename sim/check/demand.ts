/**
 * Early dead-end detection for the WGL search. A value is starved when some pending `ok` operation
 * still requires it (a get that read it, a cas that expected it) but no pending operation can write
 * it any more. Unless it is the current state, that operation can never run, so the configuration is
 * dead however far the search would otherwise wander before reaching the operation's return. With
 * unique written values this catches a stale read the moment its value is overwritten.
 */
import { REJECT, type RegisterModel } from './register-model.ts';
import type { Operation } from './history.ts';

/** The initial state needs no writer: it is current until the first write, which `dead` accounts for. */
export class ValueDemand {
  private readonly writers: Int32Array;
  private readonly requirers: Int32Array;
  private starvedCount = 0;

  constructor(
    private readonly ops: readonly Operation[],
    private readonly model: RegisterModel,
  ) {
    this.writers = new Int32Array(model.stateCount);
    this.requirers = new Int32Array(model.stateCount);
    ops.forEach((_, i) => this.adjust(i, +1));
  }

  isStarved(state: number): boolean {
    return this.requirers[state]! > 0 && this.writers[state]! === 0;
  }

  /** Whether some value other than `state` is starved. */
  dead(state: number): boolean {
    return this.starvedCount - (this.isStarved(state) ? 1 : 0) > 0;
  }

  linearize(i: number): void {
    this.adjust(i, -1);
  }

  unlinearize(i: number): void {
    this.adjust(i, +1);
  }

  /** Every starved value other than `state` (for reports; O(states)). */
  starvedOtherThan(state: number): number[] {
    const out: number[] = [];
    for (let v = 0; v < this.writers.length; v++) if (v !== state && this.isStarved(v)) out.push(v);
    return out;
  }

  private adjust(i: number, delta: number): void {
    const w = this.model.written(i);
    if (w !== REJECT) this.bump(w, delta, 0);
    const r = this.model.required(i);
    if (r !== REJECT && this.ops[i]!.status === 'ok') this.bump(r, 0, delta);
  }

  private bump(v: number, dWriters: number, dRequirers: number): void {
    const before = this.isStarved(v);
    this.writers[v] = this.writers[v]! + dWriters;
    this.requirers[v] = this.requirers[v]! + dRequirers;
    this.starvedCount += (this.isStarved(v) ? 1 : 0) - (before ? 1 : 0);
  }
}
