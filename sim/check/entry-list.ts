/**
 * The WGL search's real-time ordered call/return entries, as an array-backed doubly linked list:
 * lifting and restoring entries is O(1) and allocates nothing, which matters at millions of steps.
 */
import type { Operation } from './history.ts';

export const NONE = -1;

export class EntryList {
  readonly head = 0;
  readonly tail: number;
  readonly prev: Int32Array;
  readonly next: Int32Array;
  readonly opOf: Int32Array;
  /** Line index of the entry; Infinity for the tail, so it bounds every scan. */
  readonly timeOf: Float64Array;
  readonly isCall: Uint8Array;
  private readonly returnNode: Int32Array;

  /** Only `listed` operations get entries; a return entry only if the operation returned. */
  constructor(ops: readonly Operation[], listed: readonly number[]) {
    const entries: { time: number; op: number; call: boolean }[] = [];
    for (const i of listed) {
      const op = ops[i]!;
      entries.push({ time: op.callIndex, op: i, call: true });
      if (op.returnIndex !== Infinity) entries.push({ time: op.returnIndex, op: i, call: false });
    }
    entries.sort((a, b) => a.time - b.time);
    const size = entries.length + 2; // plus head and tail sentinels
    this.tail = size - 1;
    this.prev = new Int32Array(size);
    this.next = new Int32Array(size);
    this.opOf = new Int32Array(size).fill(NONE);
    this.timeOf = new Float64Array(size).fill(Infinity);
    this.isCall = new Uint8Array(size);
    this.returnNode = new Int32Array(ops.length).fill(NONE);
    for (let node = 0; node < size; node++) {
      this.prev[node] = node - 1;
      this.next[node] = node + 1;
    }
    entries.forEach((e, k) => {
      const node = k + 1;
      this.opOf[node] = e.op;
      this.timeOf[node] = e.time;
      this.isCall[node] = e.call ? 1 : 0;
      if (!e.call) this.returnNode[e.op] = node;
    });
  }

  /** Removes a call entry and its return entry. */
  lift(call: number): void {
    this.unlink(call);
    const r = this.returnNode[this.opOf[call]!]!;
    if (r !== NONE) this.unlink(r);
  }

  /** Undoes `lift`; lifts must be undone in reverse order. */
  unlift(call: number): void {
    const r = this.returnNode[this.opOf[call]!]!;
    if (r !== NONE) this.relink(r);
    this.relink(call);
  }

  private unlink(node: number): void {
    this.next[this.prev[node]!] = this.next[node]!;
    this.prev[this.next[node]!] = this.prev[node]!;
  }

  private relink(node: number): void {
    this.next[this.prev[node]!] = node;
    this.prev[this.next[node]!] = node;
  }
}
