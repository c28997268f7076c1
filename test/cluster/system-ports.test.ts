import { describe, expect, it } from 'vitest';
import { SystemClock } from '../../src/node/system-clock.ts';
import { SystemRandom } from '../../src/node/system-random.ts';
import { sleep } from './harness.ts';

describe('SystemClock', () => {
  it('is monotonic and fires timers after their delay', async () => {
    const clock = new SystemClock();
    const t0 = clock.now();
    const fired = await new Promise<number>((resolve) => clock.setTimer(20, () => resolve(clock.now())));
    expect(fired - t0).toBeGreaterThanOrEqual(19);
    expect(clock.pendingTimers).toBe(0);
  });

  it('cancels one timer, and close() clears all and schedules nothing afterwards', async () => {
    const clock = new SystemClock();
    let fired = 0;
    const cancel = clock.setTimer(5, () => fired++);
    cancel();
    clock.setTimer(5, () => fired++);
    clock.setTimer(10, () => fired++);
    expect(clock.pendingTimers).toBe(2);
    clock.close();
    expect(clock.pendingTimers).toBe(0);
    clock.setTimer(1, () => fired++);
    expect(clock.pendingTimers).toBe(0);
    await sleep(30);
    expect(fired).toBe(0);
  });

  it('runs a 0 ms timer without the 1 ms floor of setTimeout, and cancels it like the others', async () => {
    const clock = new SystemClock();
    let cancelledRan = false;
    clock.setTimer(0, () => (cancelledRan = true))();
    // 100 chained hops: at least 100 ms if each waited setTimeout's minimum.
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      let left = 100;
      const hop = (): void => void (--left === 0 ? resolve() : clock.setTimer(0, hop));
      clock.setTimer(0, hop);
    });
    expect(performance.now() - t0).toBeLessThan(80);
    expect(cancelledRan).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('hands what a timer throws to onError', async () => {
    const errors: unknown[] = [];
    const clock = new SystemClock({ onError: (e) => errors.push(e) });
    clock.setTimer(1, () => {
      throw new Error('tick failed');
    });
    await sleep(20);
    expect(errors).toHaveLength(1);
  });
});

describe('SystemRandom', () => {
  it('draws in range, covering it', () => {
    const r = new SystemRandom();
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const n = r.nextInt(10);
      expect(Number.isInteger(n) && n >= 0 && n < 10).toBe(true);
      seen.add(n);
      const f = r.nextFloat();
      expect(f >= 0 && f < 1).toBe(true);
      const u = r.nextUint32();
      expect(Number.isInteger(u) && u >= 0 && u < 2 ** 32).toBe(true);
    }
    expect(seen.size).toBe(10);
    expect(r.nextInt(1)).toBe(0);
    expect(r.nextInt(2 ** 32)).toBeLessThan(2 ** 32);
  });

  it('rejects bad bounds', () => {
    const r = new SystemRandom();
    expect(() => r.nextInt(0)).toThrow(RangeError);
    expect(() => r.nextInt(2 ** 32 + 1)).toThrow(RangeError);
    expect(() => r.nextInt(1.5)).toThrow(RangeError);
  });
});
