/**
 * The sequential specification of one key: a register holding a string or null ("absent"). Values are
 * interned to small integers so the search compares and caches states as numbers.
 */
import { assert } from '../../src/util/assert.ts';
import type { Operation, Value } from './history.ts';

/** Returned by `step` when the operation cannot happen in the given state. */
export const REJECT = -1;

const WRITE = 0;
const READ = 1;
const CAS = 2;

export class RegisterModel {
  /** State id 0 is null, which is also every key's initial state. */
  readonly initial = 0;
  private readonly ids = new Map<Value, number>([[null, 0]]);
  private readonly names: Value[] = [null];
  private readonly kind: Uint8Array;
  /** Read: the value read. Cas: the expected value. Write: unused. */
  private readonly test: Int32Array;
  /** Write and Cas: the value written. */
  private readonly next: Int32Array;

  /** `ops` must not contain info gets: they observed nothing and constrain nothing. */
  constructor(ops: readonly Operation[]) {
    this.kind = new Uint8Array(ops.length);
    this.test = new Int32Array(ops.length);
    this.next = new Int32Array(ops.length);
    ops.forEach((op, i) => {
      switch (op.f) {
        case 'put':
        case 'delete':
          this.kind[i] = WRITE;
          this.next[i] = this.intern(op.input);
          break;
        case 'get':
          assert(op.output !== undefined, () => `info get ${op.id} reached the register model`);
          this.kind[i] = READ;
          this.test[i] = this.intern(op.output);
          break;
        case 'cas':
          this.kind[i] = CAS;
          this.test[i] = this.intern(op.input[0]);
          this.next[i] = this.intern(op.input[1]);
          break;
      }
    });
  }

  /** The state after operation `i` (index into the constructor's `ops`) runs in `state`, or REJECT. */
  step(state: number, i: number): number {
    const kind = this.kind[i];
    if (kind === WRITE) return this.next[i]!;
    if (kind === READ) return state === this.test[i] ? state : REJECT;
    return state === this.test[i] ? this.next[i]! : REJECT;
  }

  /** Reads leave the state alone, which lets the search commit to a matching read at once. */
  isRead(i: number): boolean {
    return this.kind[i] === READ;
  }

  /** The state a read or cas requires, or REJECT for a blind write (put, delete), which needs none. */
  required(i: number): number {
    return this.kind[i] === WRITE ? REJECT : this.test[i]!;
  }

  /** The state a blind write (put, delete) leaves, or REJECT for a read or cas. */
  blindWrite(i: number): number {
    return this.kind[i] === WRITE ? this.next[i]! : REJECT;
  }

  /** The state any write (put, delete, cas) leaves, or REJECT for a read. */
  written(i: number): number {
    return this.kind[i] === READ ? REJECT : this.next[i]!;
  }

  /** How many distinct states the operations mention (ids are 0 .. count-1). */
  get stateCount(): number {
    return this.names.length;
  }

  value(state: number): Value {
    return this.names[state] ?? null;
  }

  private intern(v: Value): number {
    let id = this.ids.get(v);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(v, id);
      this.names.push(v);
    }
    return id;
  }
}
