import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EventQueue } from '../../../sim/core/event-queue.ts';
import { SeededRandom } from '../../../sim/core/random.ts';

function drain<T>(q: EventQueue<T>): T[] {
  const out: T[] = [];
  for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e);
  return out;
}

describe('EventQueue', () => {
  it('pops in time order and breaks ties by insertion order', () => {
    const q = new EventQueue<string>();
    q.push(5, 'a');
    q.push(1, 'b');
    q.push(5, 'c');
    q.push(0, 'd');
    q.push(1, 'e');
    expect(q.size).toBe(5);
    expect(q.peekTime()).toBe(0);
    expect(drain(q)).toEqual(['d', 'b', 'e', 'a', 'c']);
    expect(q.size).toBe(0);
    expect(q.peekTime()).toBeUndefined();
    expect(q.pop()).toBeUndefined();
  });

  it('matches a stable sort by time for arbitrary pushes, pops and cancels', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('push' as const), time: fc.integer({ min: 0, max: 20 }) }),
            fc.record({ op: fc.constant('pop' as const) }),
            fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }),
          ),
          { maxLength: 300 },
        ),
        (ops) => {
          const q = new EventQueue<number>();
          const model: { time: number; seq: number }[] = [];
          const ids: number[] = [];
          let seq = 0;
          for (const op of ops) {
            if (op.op === 'push') {
              ids.push(q.push(op.time, seq));
              model.push({ time: op.time, seq });
              seq++;
            } else if (op.op === 'pop') {
              model.sort((a, b) => a.time - b.time || a.seq - b.seq);
              expect(q.peekTime()).toBe(model[0]?.time);
              expect(q.pop()).toBe(model.shift()?.seq);
            } else if (ids.length > 0) {
              const victim = op.pick % ids.length;
              const wasLive = model.some((m) => m.seq === victim);
              expect(q.cancel(ids[victim]!)).toBe(wasLive);
              const at = model.findIndex((m) => m.seq === victim);
              if (at >= 0) model.splice(at, 1);
            }
            expect(q.size).toBe(model.length);
          }
          model.sort((a, b) => a.time - b.time || a.seq - b.seq);
          expect(drain(q)).toEqual(model.map((m) => m.seq));
        },
      ),
    );
  });

  it('cancels lazily and idempotently', () => {
    const q = new EventQueue<string>();
    const a = q.push(1, 'a');
    q.push(2, 'b');
    expect(q.cancel(a)).toBe(true);
    expect(q.cancel(a)).toBe(false);
    expect(q.size).toBe(1);
    expect(q.peekTime()).toBe(2);
    expect(q.pop()).toBe('b');
    expect(q.cancel(a)).toBe(false);
  });

  it('compacts when most entries are cancelled, keeping the order', () => {
    const q = new EventQueue<number>();
    const ids: number[] = [];
    for (let i = 0; i < 10_000; i++) ids.push(q.push(10_000 - i, i));
    for (let i = 0; i < 10_000; i++) if (i % 10 !== 0) q.cancel(ids[i]!);
    expect(q.size).toBe(1000);
    const out = drain(q);
    expect(out).toEqual(Array.from({ length: 1000 }, (_, k) => 9990 - 10 * k));
  });

  // CPU time rather than wall time, and the best of three attempts, so a busy machine does not
  // fail the test; on an idle machine one attempt takes a few hundred ms.
  it('handles 1e6 push/pop well under a second', () => {
    const r = new SeededRandom(1);
    const times = Array.from({ length: 1_000_000 }, () => r.nextInt(1_000_000));
    let best = Number.POSITIVE_INFINITY;
    for (let attempt = 0; attempt < 3 && best >= 1000; attempt++) {
      const q = new EventQueue<number>();
      const start = process.cpuUsage();
      for (let i = 0; i < times.length; i++) q.push(times[i]!, i);
      let last = -1;
      let n = 0;
      let outOfOrder = 0;
      for (let t = q.peekTime(); t !== undefined; t = q.peekTime()) {
        if (t < last) outOfOrder++;
        last = t;
        q.pop();
        n++;
      }
      best = Math.min(best, process.cpuUsage(start).user / 1000);
      expect(n).toBe(1_000_000);
      expect(outOfOrder).toBe(0);
    }
    expect(best).toBeLessThan(1000);
  });
});

describe('EventQueue ids', () => {
  it('never lets a stale id cancel a later event that reuses its slot', () => {
    const q = new EventQueue<string>();
    const a = q.push(1, 'a');
    expect(q.pop()).toBe('a');
    const b = q.push(2, 'b');
    expect(b).not.toBe(a);
    expect(q.cancel(a)).toBe(false);
    expect(q.size).toBe(1);
    expect(q.cancel(b)).toBe(true);
    expect(q.pop()).toBeUndefined();
    expect(q.cancel(-1)).toBe(false);
    expect(q.cancel(123456789)).toBe(false);
  });
});
