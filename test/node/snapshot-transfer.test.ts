/**
 * The streamed snapshot protocol over a channel that loses, duplicates and reorders chunks:
 * the follower ends up with exactly the leader's state, and neither side ever holds more than
 * the window of chunks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SnapshotReceiver, SnapshotSender } from '../../src/node/snapshot-transfer.ts';
import type { Message } from '../../src/raft/types.ts';
import { MemoryKvStateMachine } from '../../src/store/memory-kv.ts';
import { entriesOf, put } from '../store/kv-fixtures.ts';

const conf = { voters: [1, 2], learners: [] };

function sourceWith(keys: number): MemoryKvStateMachine {
  const sm = new MemoryKvStateMachine();
  // At least one entry: a snapshot at index 0 covers nothing and is never sent.
  sm.apply(entriesOf(1, 1, [put('marker', 'm'), ...Array.from({ length: keys }, (_, i) => put(`key-${String(i).padStart(5, '0')}`, 'v'.repeat(i % 50)))]));
  return sm;
}

/** A tiny deterministic PRNG for the channel. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function transfer(seed: number, drop: number, dup: number, keys: number) {
  const rand = rng(seed);
  const source = sourceWith(keys);
  const target = new MemoryKvStateMachine();
  const window = 4;
  const wire: Message[] = [];
  let now = 0;
  let outcome: 'ok' | 'failed' | null = null;
  let maxEarly = 0;
  let maxUnacked = 0;
  const sender = new SnapshotSender({
    self: 1,
    chunkBytes: 64,
    window,
    retransmitMs: 20,
    stallMs: 10_000,
    send: (m) => wire.push(m),
    report: (_to, failed) => (outcome = failed ? 'failed' : 'ok'),
  });
  const receiver = new SnapshotReceiver({ self: 2, window, send: (m) => wire.push(m) });
  sender.start(2, 1, source, conf, now);
  let installedAt = -1;
  for (let step = 0; step < 200_000 && outcome === null; step++) {
    if (wire.length === 0 || rand() < 0.05) {
      now += 10;
      sender.tick(now);
      continue;
    }
    // Deliver a random message in flight (reordering), maybe twice, maybe not at all.
    const m = wire.splice(Math.floor(rand() * wire.length), 1)[0]!;
    if (rand() < drop) continue;
    if (rand() < dup) wire.push(m);
    if (m.type === 'snapChunk') {
      const meta = receiver.onChunk(m, target, 0);
      const cur = (receiver as unknown as { current: { early: Map<number, unknown> } | null }).current;
      maxEarly = Math.max(maxEarly, cur?.early.size ?? 0);
      if (meta && receiver.install(meta.index)) installedAt = meta.index;
    } else {
      sender.onAck(m, now);
    }
    const t = (sender as unknown as { transfers: Map<number, { unacked: unknown[] }> }).transfers.get(2);
    maxUnacked = Math.max(maxUnacked, t?.unacked.length ?? 0);
  }
  return { source, target, outcome, installedAt, maxEarly, maxUnacked, window };
}

describe('streamed snapshot transfer', () => {
  it('installs an exact copy over a clean channel', () => {
    const r = transfer(1, 0, 0, 300);
    expect(r.outcome).toBe('ok');
    expect(r.installedAt).toBe(r.source.appliedIndex());
    expect(r.target.snapshot()).toEqual(r.source.snapshot());
  });

  it('survives loss, duplication and reordering with bounded buffers (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e9 }), fc.constantFrom(0, 0.1, 0.3), fc.constantFrom(0, 0.2), fc.integer({ min: 0, max: 400 }), (seed, drop, dup, keys) => {
        const r = transfer(seed, drop, dup, keys);
        expect(r.outcome).toBe('ok');
        expect(r.target.snapshot()).toEqual(r.source.snapshot());
        expect(r.maxUnacked).toBeLessThanOrEqual(r.window);
        expect(r.maxEarly).toBeLessThan(r.window);
      }),
      { seed: 7, numRuns: 60 },
    );
  });
});
