/**
 * A follower hands committed entries to its state machine in a later turn than the one that
 * learned of them (a leader's applies answer clients; a follower's may wait behind the messages
 * already queued), always in commit order, and never after a snapshot that replaced them.
 * Entries a node writes go to the state machine's prepare() first, while the write runs.
 */
import { describe, expect, it } from 'vitest';
import { RaftNode } from '../../src/node/raft-node.ts';
import type { Clock } from '../../src/node/ports.ts';
import { SystemRandom } from '../../src/node/system-random.ts';
import { EntryType, message, type Entry, type Message } from '../../src/raft/types.ts';
import { encodeCommand } from '../../src/store/kv-command.ts';
import { MemoryDisk } from '../../src/store/memory-disk.ts';
import { MemoryKvStateMachine } from '../../src/store/memory-kv.ts';
import { immediateDefer, MemoryLogStore } from '../../src/store/memory-log-store.ts';
import { fromUtf8, utf8 } from '../../src/util/bytes.ts';

/** Timers run only when the test says so. */
class ManualClock implements Clock {
  private timers: { at: number; fn: () => void }[] = [];
  private t = 0;
  now(): number {
    return this.t;
  }
  setTimer(delayMs: number, fn: () => void): () => void {
    const timer = { at: this.t + delayMs, fn };
    this.timers.push(timer);
    return () => (this.timers = this.timers.filter((x) => x !== timer));
  }
  /** Runs the timers due now (delay 0), in the order they were set. */
  runDue(): number {
    const due = this.timers.filter((x) => x.at <= this.t);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const x of due) x.fn();
    return due.length;
  }
}

class RecordingStateMachine extends MemoryKvStateMachine {
  readonly batches: number[][] = [];
  readonly prepared: number[][] = [];
  override apply(entries: readonly Entry[]) {
    this.batches.push(entries.map((e) => e.index));
    return super.apply(entries);
  }
  override prepare(entries: readonly Entry[]) {
    this.prepared.push(entries.map((e) => e.index));
    super.prepare(entries);
  }
}

const put = (index: number, term: number, key: string, value: string): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: encodeCommand({ op: 'put', key: utf8(key), value: utf8(value) }),
});

function follower() {
  const clock = new ManualClock();
  const sent: Message[] = [];
  const sm = new RecordingStateMachine();
  const node = new RaftNode({
    id: 2,
    voters: [1, 2, 3],
    clock,
    random: new SystemRandom(),
    transport: { send: (m) => sent.push(m) },
    logStore: new MemoryLogStore(new MemoryDisk(), { defer: immediateDefer }),
    stateMachine: sm,
    tickMs: 10,
  });
  return { clock, sent, sm, node };
}

const append = (index: number, logTerm: number, entries: Entry[], commit: number): Message =>
  message({ type: 'app', from: 1, to: 2, term: 1, index, logTerm, entries, commit });

describe('follower applies', () => {
  it('wait for the next turn, then go to the state machine in commit order, as one batch', () => {
    const { clock, sent, sm, node } = follower();
    node.receive(append(0, 0, [put(1, 1, 'a', '1'), put(2, 1, 'b', '1')], 2));
    expect(sent.filter((m) => m.type === 'appResp').map((m) => m.index)).toEqual([2]); // acknowledged at once
    expect(sm.appliedIndex()).toBe(0);
    node.receive(append(2, 1, [put(3, 1, 'a', '2')], 3));
    expect(sm.appliedIndex()).toBe(0);
    expect(clock.runDue()).toBeGreaterThan(0);
    expect(sm.batches).toEqual([[1, 2, 3]]);
    expect(fromUtf8(sm.get(utf8('a'))!.value)).toBe('2');
    node.stop();
  });

  it('are applied before a snapshot replaces the state, never after it', () => {
    const { clock, sm, node } = follower();
    node.receive(append(0, 0, [put(1, 1, 'a', '1'), put(2, 1, 'b', '1')], 2));
    expect(sm.appliedIndex()).toBe(0);
    // An image of a state at index 5 in which `a` is 5.
    const source = new MemoryKvStateMachine();
    source.apply([put(1, 1, 'a', '1'), put(2, 1, 'b', '1'), put(3, 1, 'c', '1'), put(4, 1, 'd', '1'), put(5, 1, 'a', '5')]);
    const meta = { index: 5, term: 1, conf: { voters: [1, 2, 3], learners: [] } };
    node.receive(message({ type: 'snap', from: 1, to: 2, term: 1, snapshot: { meta, data: source.snapshot() } }));
    expect(sm.batches).toEqual([[1, 2]]);
    expect(sm.appliedIndex()).toBe(5);
    clock.runDue();
    expect(sm.batches).toEqual([[1, 2]]);
    expect(sm.appliedIndex()).toBe(5);
    expect(fromUtf8(sm.get(utf8('a'))!.value)).toBe('5');
    node.stop();
  });
});

describe('prepare', () => {
  it('gets the entries of each write on a zero timer, after the Ready sent its messages, and nothing once stopped', () => {
    const { clock, sent, sm, node } = follower();
    node.receive(append(0, 0, [put(1, 1, 'a', '1'), put(2, 1, 'b', '1')], 0));
    expect(sent.filter((m) => m.type === 'appResp').map((m) => m.index)).toEqual([2]);
    expect(sm.prepared).toEqual([]);
    clock.runDue();
    expect(sm.prepared).toEqual([[1, 2]]);
    // A Ready without entries (a heartbeat's commit) prepares nothing.
    node.receive(message({ type: 'heartbeat', from: 1, to: 2, term: 1, commit: 2 }));
    clock.runDue();
    expect(sm.prepared).toEqual([[1, 2]]);
    expect(sm.batches).toEqual([[1, 2]]);
    node.receive(append(2, 1, [put(3, 1, 'c', '1')], 2));
    node.stop();
    clock.runDue();
    expect(sm.prepared).toEqual([[1, 2]]);
  });
});
