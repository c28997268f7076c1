import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../src/net/tcp/backoff.ts';
import { LogOnce, type TcpLogEvent } from '../../../src/net/tcp/log-once.ts';
import { SendQueue } from '../../../src/net/tcp/send-queue.ts';
import { TesseraError } from '../../../src/errors.ts';

const frame = (n: number, tag = 0) => new Uint8Array(n).fill(tag);

describe('SendQueue', () => {
  it('is FIFO and drops the oldest frames to respect the count bound', () => {
    const q = new SendQueue(3, 1000);
    for (let i = 1; i <= 5; i++) q.push(frame(1, i));
    expect(q.length).toBe(3);
    expect(q.dropped).toBe(2);
    expect([q.shift()![0], q.shift()![0], q.shift()![0]]).toEqual([3, 4, 5]);
    expect(q.shift()).toBeUndefined();
    expect(q.bytes).toBe(0);
  });

  it('drops the oldest frames to respect the byte bound, and refuses a frame larger than the bound', () => {
    const q = new SendQueue(100, 10);
    q.push(frame(4, 1));
    q.push(frame(4, 2));
    q.push(frame(4, 3)); // 12 > 10: frame 1 goes
    expect(q.bytes).toBe(8);
    expect(q.dropped).toBe(1);
    q.push(frame(11, 4));
    expect(q.dropped).toBe(2);
    expect(q.length).toBe(2);
  });

  it('stays bounded and O(1) amortised over a long run', () => {
    const q = new SendQueue(1000, 1 << 20);
    let out = 0;
    let longest = 0;
    const f = frame(10);
    for (let i = 0; i < 200_000; i++) {
      q.push(f);
      if (i % 3 !== 0) out += q.shift() ? 1 : 0;
      longest = Math.max(longest, q.length);
    }
    expect(longest).toBe(1000);
    expect(q.bytes).toBe(q.length * 10);
    expect(out + q.length + q.dropped).toBe(200_000);
  });
});

describe('Backoff', () => {
  it('doubles from the base up to the cap, jittered within [half, full], and resets', () => {
    const lo = new Backoff(10, 1000, () => 0);
    const hi = new Backoff(10, 1000, () => 0.999999);
    const los = Array.from({ length: 10 }, () => lo.next());
    const his = Array.from({ length: 10 }, () => hi.next());
    expect(los).toEqual([5, 10, 20, 40, 80, 160, 320, 500, 500, 500]);
    expect(his).toEqual([10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
    lo.reset();
    expect(lo.next()).toBe(5);
    const many = new Backoff(10, 1000);
    for (let i = 0; i < 100; i++) expect(many.next()).toBeLessThanOrEqual(1000);
  });
});

describe('LogOnce', () => {
  it('logs each (peer, code) once until the peer is forgotten, and survives a throwing logger', () => {
    const seen: TcpLogEvent[] = [];
    const log = new LogOnce((e) => seen.push(e), 3);
    const err = (code: 'AUTH_FAILED' | 'PROTOCOL_ERROR') => new TesseraError(code, 'x');
    log.report('node 2', err('AUTH_FAILED'));
    log.report('node 2', err('AUTH_FAILED'));
    log.report('node 2', err('PROTOCOL_ERROR'));
    log.report('node 3', err('AUTH_FAILED'));
    expect(seen.map((e) => `${e.peer}/${e.code}`)).toEqual(['node 2/AUTH_FAILED', 'node 2/PROTOCOL_ERROR', 'node 3/AUTH_FAILED']);
    log.report('node 4', err('AUTH_FAILED')); // beyond the key bound: dropped
    expect(seen).toHaveLength(3);
    log.forget('node 2');
    log.report('node 2', err('AUTH_FAILED'));
    expect(seen).toHaveLength(4);
    const throwing = new LogOnce(() => {
      throw new Error('logger down');
    }, 10);
    expect(() => throwing.report('node 1', err('AUTH_FAILED'))).not.toThrow();
  });
});
