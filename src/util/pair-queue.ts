/**
 * A FIFO of number pairs: Raft's inflight window keeps (last index, bytes) of each append; the
 * event log's index keeps (revision, events in it) of every kept revision, and (revision, sub)
 * of the last event of every stored block. Two plain number arrays with a moving head: pushes
 * and shifts are O(1), and the dead prefix is dropped once it outgrows the live part.
 */
import { assert } from './assert.ts';

export class PairQueue {
  private as: number[] = [];
  private bs: number[] = [];
  private head = 0;

  get length(): number {
    return this.as.length - this.head;
  }

  push(a: number, b: number): void {
    this.as.push(a);
    this.bs.push(b);
  }

  firstA(): number {
    assert(this.length > 0, 'pair queue: empty');
    return this.as[this.head]!;
  }

  firstB(): number {
    assert(this.length > 0, 'pair queue: empty');
    return this.bs[this.head]!;
  }

  lastA(): number {
    assert(this.length > 0, 'pair queue: empty');
    return this.as[this.as.length - 1]!;
  }

  /** Adds `n` to the last pair's b. */
  addToLastB(n: number): void {
    assert(this.length > 0, 'pair queue: empty');
    this.bs[this.bs.length - 1]! += n;
  }

  shift(): void {
    assert(this.length > 0, 'pair queue: shift of an empty queue');
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.as.length) {
      this.as = this.as.slice(this.head);
      this.bs = this.bs.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.as = [];
    this.bs = [];
    this.head = 0;
  }
}
