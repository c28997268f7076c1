/**
 * A state machine whose commits become durable only later (LMDB with lazyMetaSync) must be made
 * durable before the log is compacted past what it could fall back to: every snapshot the node
 * saves (which compacts the log) is preceded by makeDurable() at or past its index.
 */
import { describe, expect, it } from 'vitest';
import { RaftNode } from '../../src/node/raft-node.ts';
import { SystemClock } from '../../src/node/system-clock.ts';
import { SystemRandom } from '../../src/node/system-random.ts';
import type { Snapshot } from '../../src/raft/types.ts';
import { encodeCommand } from '../../src/store/kv-command.ts';
import { MemoryDisk } from '../../src/store/memory-disk.ts';
import { MemoryKvStateMachine } from '../../src/store/memory-kv.ts';
import { immediateDefer, MemoryLogStore } from '../../src/store/memory-log-store.ts';
import { utf8 } from '../../src/util/bytes.ts';

type Event = { kind: 'durable'; applied: number } | { kind: 'snapshot'; index: number };

class RecordingStateMachine extends MemoryKvStateMachine {
  constructor(private readonly record: Event[]) {
    super();
  }

  override makeDurable(): void {
    this.record.push({ kind: 'durable', applied: this.appliedIndex() });
    super.makeDurable();
  }
}

describe('RaftNode and lazily durable state machines', () => {
  it('makes the state durable before every snapshot that compacts the log', async () => {
    const events: Event[] = [];
    const logStore = new MemoryLogStore(new MemoryDisk(), { defer: immediateDefer });
    const saveSnapshot = logStore.saveSnapshot.bind(logStore);
    logStore.saveSnapshot = (snap: Snapshot, done) => {
      events.push({ kind: 'snapshot', index: snap.meta.index });
      saveSnapshot(snap, done);
    };
    const clock = new SystemClock();
    const node = new RaftNode({
      id: 1,
      voters: [1],
      clock,
      random: new SystemRandom(),
      transport: { send: () => {} },
      logStore,
      stateMachine: new RecordingStateMachine(events),
      tickMs: 10,
      snapshotEvery: 4,
    });
    try {
      node.start();
      node.campaign();
      for (let i = 0; i < 14; i++) {
        const data = encodeCommand({ op: 'put', key: utf8(`k${i}`), value: utf8('v') });
        await new Promise<unknown>((resolve, reject) => node.propose(data, (e, r) => (e ? reject(e) : resolve(r))));
      }
    } finally {
      node.stop();
      clock.close();
    }
    const snapshots = events.filter((e) => e.kind === 'snapshot');
    expect(snapshots.length).toBeGreaterThanOrEqual(3);
    events.forEach((e, i) => {
      if (e.kind !== 'snapshot') return;
      const before = events[i - 1];
      expect(before).toEqual({ kind: 'durable', applied: expect.any(Number) });
      expect((before as { applied: number }).applied).toBeGreaterThanOrEqual(e.index);
    });
  });
});
