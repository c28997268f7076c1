import { describe, expect, it } from 'vitest';
import { ENVIRONMENT, Simulator, US_PER_MS } from '../../../sim/core/simulator.ts';
import { SeededRandom } from '../../../sim/core/random.ts';
import { TraceHash } from '../../../sim/core/trace.ts';

describe('Simulator: ordering and run limits', () => {
  it('runs events in time order, ties in scheduling order, and advances virtual time', () => {
    const sim = new Simulator();
    const log: string[] = [];
    sim.schedule(30, 1, () => log.push(`a@${sim.now()}`));
    sim.schedule(10, 2, () => log.push(`b@${sim.now()}`));
    sim.schedule(10, ENVIRONMENT, () => {
      log.push(`c@${sim.now()}`);
      sim.schedule(0, 1, () => log.push(`d@${sim.now()}`));
      sim.schedule(20, 1, () => log.push(`e@${sim.now()}`));
    });
    expect(sim.run()).toBe(5);
    expect(log).toEqual(['b@10', 'c@10', 'd@10', 'a@30', 'e@30']);
    expect(sim.now()).toBe(30);
    expect(sim.eventsRun).toBe(5);
  });

  it('cancels events, idempotently', () => {
    const sim = new Simulator();
    const log: number[] = [];
    const cancel = sim.schedule(5, 1, () => log.push(1));
    sim.schedule(6, 1, () => log.push(2));
    cancel();
    cancel();
    sim.run();
    expect(log).toEqual([2]);
  });

  it('stops at until (inclusive) and advances time to it; maxEvents and stopWhen stop early', () => {
    const sim = new Simulator();
    const log: number[] = [];
    for (const t of [10, 20, 30, 40]) sim.schedule(t, 1, () => log.push(t));
    expect(sim.run({ until: 20 })).toBe(2);
    expect(sim.now()).toBe(20);
    expect(sim.run({ until: 25 })).toBe(0);
    expect(sim.now()).toBe(25);
    expect(sim.run({ maxEvents: 1 })).toBe(1);
    expect(sim.now()).toBe(30);
    expect(sim.run({ stopWhen: () => log.length >= 3, until: 1000 })).toBe(0);
    expect(sim.now()).toBe(30);
    expect(sim.run({ until: 1000 })).toBe(1);
    expect(sim.now()).toBe(1000);
    expect(log).toEqual([10, 20, 30, 40]);
    expect(() => sim.run({ until: 5 })).toThrow(/INVARIANT/);
  });

  it('propagates handler exceptions and stays usable', () => {
    const sim = new Simulator();
    sim.schedule(1, 1, () => {
      throw new Error('boom');
    });
    let ran = false;
    sim.schedule(2, 1, () => (ran = true));
    expect(() => sim.run()).toThrow('boom');
    expect(sim.now()).toBe(1);
    sim.run();
    expect(ran).toBe(true);
  });

  it('rejects bad delays and reentrant runs', () => {
    const sim = new Simulator();
    expect(() => sim.schedule(-1, 1, () => {})).toThrow(/INVARIANT/);
    expect(() => sim.schedule(0.5, 1, () => {})).toThrow(/INVARIANT/);
    sim.schedule(1, 0, () => sim.run());
    expect(() => sim.run()).toThrow(/reentrant/);
  });
});

describe('Simulator: pause and resume', () => {
  it('holds a paused target’s events and releases them in order at the resume time', () => {
    const sim = new Simulator();
    const log: string[] = [];
    sim.schedule(10, 1, () => log.push(`1a@${sim.now()}`));
    sim.schedule(20, 2, () => log.push(`2a@${sim.now()}`));
    sim.schedule(30, 1, () => log.push(`1b@${sim.now()}`));
    sim.schedule(30, 1, () => log.push(`1c@${sim.now()}`));
    sim.schedule(5, ENVIRONMENT, () => sim.pause(1));
    sim.schedule(50, ENVIRONMENT, () => {
      log.push(`resume@${sim.now()}`);
      sim.resume(1);
    });
    sim.schedule(50, 1, () => log.push(`1d@${sim.now()}`));
    sim.run();
    expect(log).toEqual(['2a@20', 'resume@50', '1d@50', '1a@50', '1b@50', '1c@50']);
  });

  it('holds events scheduled while paused, honours cancellation of held events, and is idempotent', () => {
    const sim = new Simulator();
    const log: string[] = [];
    sim.pause(1);
    sim.pause(1);
    expect(sim.isPaused(1)).toBe(true);
    sim.schedule(1, 1, () => log.push('x'));
    const cancelY = sim.schedule(2, 1, () => log.push('y'));
    sim.schedule(3, 1, () => log.push('z'));
    sim.run({ until: 10 });
    expect(log).toEqual([]);
    expect(sim.pending).toBe(3);
    cancelY();
    sim.resume(1);
    sim.resume(1);
    expect(sim.isPaused(1)).toBe(false);
    sim.run();
    expect(log).toEqual(['x', 'z']);
    expect(sim.now()).toBe(10);
    expect(() => sim.pause(ENVIRONMENT)).toThrow(/INVARIANT/);
  });
});

describe('Simulator: crash and incarnations', () => {
  it('drops queued and held events of the old incarnation but runs new ones', () => {
    const sim = new Simulator();
    const log: string[] = [];
    sim.schedule(10, 1, () => log.push('old-queued'));
    sim.schedule(5, 2, () => log.push('other'));
    sim.pause(1);
    sim.schedule(1, 1, () => log.push('old-held'));
    sim.run({ until: 2 });
    expect(sim.incarnation(1)).toBe(0);
    sim.crash(1);
    expect(sim.incarnation(1)).toBe(1);
    expect(sim.isPaused(1)).toBe(false);
    sim.schedule(20, 1, () => log.push('new'));
    sim.resume(1);
    sim.run();
    expect(log).toEqual(['other', 'new']);
    expect(() => sim.crash(ENVIRONMENT)).toThrow(/INVARIANT/);
  });
});

describe('Simulator: skewed clocks', () => {
  it('gives an unskewed clock equal to virtual time in ms', () => {
    const sim = new Simulator();
    const clock = sim.clockFor(1);
    const fired: number[] = [];
    clock.setTimer(1.5, () => fired.push(sim.now()));
    sim.run({ until: 2 * US_PER_MS });
    expect(fired).toEqual([1500]);
    expect(clock.now()).toBe(2);
    expect(sim.localTimeMs(1)).toBe(2);
  });

  it('applies offset and drift to now() and scales timers by the local rate', () => {
    const sim = new Simulator();
    const fast = sim.clockFor(1, { driftPpm: 100_000, offsetMs: 50 }); // 10% fast
    const slow = sim.clockFor(2, { driftPpm: -500_000 }); // half speed
    const fired: string[] = [];
    fast.setTimer(110, () => fired.push(`fast@${sim.now()}@${fast.now()}`));
    slow.setTimer(50, () => fired.push(`slow@${sim.now()}@${slow.now()}`));
    sim.run();
    // Both fire at virtual 100 ms; ties run in the order the timers were set.
    expect(fired).toEqual(['fast@100000@160', 'slow@100000@50']);
  });

  it('changes skew at run time without the local clock jumping backwards', () => {
    const sim = new Simulator();
    const clock = sim.clockFor(1, { driftPpm: 1_000_000 }); // double speed
    sim.run({ until: 10 * US_PER_MS });
    expect(clock.now()).toBe(20);
    sim.setSkew(1, { driftPpm: 0 });
    expect(clock.now()).toBe(20);
    sim.run({ until: 15 * US_PER_MS });
    expect(clock.now()).toBe(25);
    // A backwards offset would step the clock back: it holds its reading instead.
    sim.setSkew(1, { offsetMs: -100 });
    expect(clock.now()).toBe(25);
    // A forward offset steps it forward.
    sim.setSkew(1, { offsetMs: 30 });
    expect(clock.now()).toBe(45);
    // Clocks obtained later (a restarted node) share the machine's skew.
    expect(sim.clockFor(1).now()).toBe(45);
    expect(() => sim.setSkew(1, { driftPpm: -1_000_000 })).toThrow(/INVARIANT/);
  });

  it('keeps local time monotonic under random skew changes', () => {
    const sim = new Simulator();
    const r = new SeededRandom(99);
    const clock = sim.clockFor(3, { driftPpm: 200 });
    let last = clock.now();
    for (let i = 0; i < 2000; i++) {
      sim.schedule(r.range(0, 5000), ENVIRONMENT, () => {
        sim.setSkew(3, { driftPpm: r.range(-500_000, 500_000), offsetMs: r.range(-1000, 1000) });
        const now = clock.now();
        if (now < last) throw new Error(`clock went back from ${last} to ${now}`);
        last = now;
      });
      sim.run();
    }
  });

  it('timers are events of the node: pause holds them, crash drops them', () => {
    const sim = new Simulator();
    const clock = sim.clockFor(1);
    const fired: string[] = [];
    clock.setTimer(10, () => fired.push(`t1@${sim.nowMs()}`));
    clock.setTimer(20, () => fired.push(`t2@${sim.nowMs()}`));
    const cancel = clock.setTimer(15, () => fired.push('cancelled'));
    cancel();
    sim.pause(1);
    sim.run({ until: 12 * US_PER_MS });
    sim.resume(1);
    sim.run({ until: 13 * US_PER_MS });
    sim.crash(1);
    sim.run();
    expect(fired).toEqual(['t1@12']);
  });
});

describe('Simulator: determinism', () => {
  function scenario(seed: number): string {
    const sim = new Simulator();
    const r = new SeededRandom(seed);
    const trace = new TraceHash();
    for (let node = 1; node <= 5; node++) {
      const rn = r.fork(`node${node}`);
      const clock = sim.clockFor(node, { driftPpm: rn.range(-100, 100) });
      const tick = (): void => {
        trace.add('tick', node, sim.now(), clock.now());
        if (rn.chance(0.3)) sim.schedule(rn.range(0, 3000), rn.range(1, 5), () => trace.add('msg', node, sim.now()));
        clock.setTimer(rn.range(1, 10), tick);
      };
      clock.setTimer(1, tick);
    }
    const nemesis = r.fork('nemesis');
    const chaos = (): void => {
      const node = nemesis.range(1, 5);
      const action = nemesis.pick(['pause', 'resume', 'crash', 'skew'] as const);
      trace.add('nemesis', action, node, sim.now());
      if (action === 'pause') sim.pause(node);
      else if (action === 'resume') sim.resume(node);
      else if (action === 'skew') sim.setSkew(node, { driftPpm: nemesis.range(-1000, 1000) });
      else {
        sim.crash(node);
        sim.clockFor(node).setTimer(1, () => trace.add('restart', node, sim.now()));
      }
      sim.schedule(nemesis.range(1000, 20_000), ENVIRONMENT, chaos);
    };
    sim.schedule(0, ENVIRONMENT, chaos);
    sim.run({ until: 2_000 * US_PER_MS });
    return `${trace.hex()}:${trace.count}`;
  }

  it('replays identically from a seed and differs between seeds', () => {
    expect(scenario(1)).toBe(scenario(1));
    expect(scenario(1)).not.toBe(scenario(2));
  });
});
