/**
 * Who can send to whom. Rules compose: a link works only if no rule forbids it. Kept as rules
 * (not an expanded matrix) so nodes that join later are covered by an `isolate` or `partition`
 * already in force, and so `heal` is trivially complete.
 */
import { assert } from '../../src/util/assert.ts';

/** Group of nodes not named in a partition: together they form one implicit remaining group. */
const REST = -1;

export type IsolateMode = 'in' | 'out';

export class Connectivity {
  /** from → destinations it cannot reach. */
  private readonly blocked = new Map<number, Set<number>>();
  /** Partition group of each named node; null when no partition is in force. */
  private groups: Map<number, number> | null = null;
  private readonly deaf = new Set<number>();
  private readonly mute = new Set<number>();
  /** id → the only peers it can talk with (both directions). */
  private readonly only = new Map<number, Set<number>>();

  canReach(from: number, to: number): boolean {
    if (this.mute.has(from) || this.deaf.has(to)) return false;
    if (this.blocked.get(from)?.has(to)) return false;
    if (this.groups !== null && (this.groups.get(from) ?? REST) !== (this.groups.get(to) ?? REST)) return false;
    const fromOnly = this.only.get(from);
    if (fromOnly !== undefined && !fromOnly.has(to)) return false;
    const toOnly = this.only.get(to);
    if (toOnly !== undefined && !toOnly.has(from)) return false;
    return true;
  }

  /** One-way: messages from `from` to `to` are lost; the reverse direction is untouched. */
  block(from: number, to: number): void {
    let set = this.blocked.get(from);
    if (set === undefined) {
      set = new Set();
      this.blocked.set(from, set);
    }
    set.add(to);
  }

  unblock(from: number, to: number): void {
    this.blocked.get(from)?.delete(to);
  }

  /**
   * Symmetric: nodes in different groups cannot talk. Nodes named in no group form one more
   * group together, so partition([[1, 2]]) splits {1, 2} from everyone else. Replaces any
   * earlier partition; other rules stay.
   */
  partition(groups: readonly (readonly number[])[]): void {
    const map = new Map<number, number>();
    groups.forEach((group, g) => {
      for (const id of group) {
        assert(!map.has(id), () => `node ${id} is in more than one partition group`);
        map.set(id, g);
      }
    });
    this.groups = map;
  }

  /** Cuts `id` off: both directions by default, or only what it receives ('in') or sends ('out'). */
  isolate(id: number, options: { oneWay?: IsolateMode } = {}): void {
    if (options.oneWay !== 'out') this.deaf.add(id);
    if (options.oneWay !== 'in') this.mute.add(id);
  }

  /** Partial connectivity: `id` can talk (both ways) only with `peers`. Replaces an earlier rule for `id`. */
  connectOnly(id: number, peers: readonly number[]): void {
    this.only.set(id, new Set(peers));
  }

  /** Removes every rule. */
  heal(): void {
    this.blocked.clear();
    this.groups = null;
    this.deaf.clear();
    this.mute.clear();
    this.only.clear();
  }
}
