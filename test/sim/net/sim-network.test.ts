import { describe, expect, it } from 'vitest';
import { message, type Message } from '../../../src/raft/types.ts';
import { SeededRandom } from '../../../sim/core/random.ts';
import { ENVIRONMENT, Simulator, US_PER_MS } from '../../../sim/core/simulator.ts';
import { TraceHash } from '../../../sim/core/trace.ts';
import { SimNetwork, type NetworkFaults } from '../../../sim/net/sim-network.ts';

interface Received {
  at: number;
  m: Message;
}

function setup(seed = 1, faults: Partial<NetworkFaults> = {}, nodes = [1, 2, 3]) {
  const sim = new Simulator();
  const trace = new TraceHash({ recent: 8 });
  const net = new SimNetwork({ sim, random: new SeededRandom(seed), trace, faults });
  const inbox = new Map<number, Received[]>();
  for (const id of nodes) {
    inbox.set(id, []);
    net.register(id, (m) => inbox.get(id)!.push({ at: sim.now(), m }));
  }
  const send = (from: number, to: number, index = 0): void =>
    net.transportFor(from).send(message({ type: 'app', from, to, term: 1, index }));
  return { sim, trace, net, inbox, send };
}

const indices = (r: Received[]): number[] => r.map((x) => x.m.index);

describe('SimNetwork delivery', () => {
  it('delivers after a latency within delayMs, counting sends and deliveries', () => {
    const { sim, net, inbox, send } = setup(1, { delayMs: { min: 2, max: 4 } });
    for (let i = 0; i < 200; i++) send(1, 2, i);
    sim.run();
    const got = inbox.get(2)!;
    expect(got).toHaveLength(200);
    for (const r of got) expect(r.at >= 2 * US_PER_MS && r.at <= 4 * US_PER_MS).toBe(true);
    expect(new Set(got.map((r) => r.at)).size).toBeGreaterThan(50);
    expect(net.stats).toMatchObject({ sent: 200, delivered: 200, dropped: 0, duplicated: 0 });
  });

  it('keeps FIFO order when the latency is fixed and there are no long delays', () => {
    const { sim, inbox, send } = setup(1, { delayMs: { min: 3, max: 3 } });
    for (let i = 0; i < 50; i++) send(1, 2, i);
    sim.run();
    expect(indices(inbox.get(2)!)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('reorders messages through occasional long delays', () => {
    const { sim, inbox, send } = setup(2, {
      delayMs: { min: 1, max: 1 },
      longDelayRate: 0.2,
      longDelayMs: { min: 50, max: 100 },
    });
    for (let i = 0; i < 200; i++) sim.schedule(i * US_PER_MS, ENVIRONMENT, () => send(1, 2, i));
    sim.run();
    const got = indices(inbox.get(2)!);
    expect(got).toHaveLength(200);
    const inversions = got.filter((x, k) => k > 0 && x < got[k - 1]!).length;
    expect(inversions).toBeGreaterThan(10);
    const late = inbox.get(2)!.filter((r) => r.at - r.m.index * US_PER_MS >= 50 * US_PER_MS).length;
    expect(late).toBeGreaterThan(20);
    expect(late).toBeLessThan(60);
  });

  it('drops at dropRate', () => {
    const all = setup(3, { dropRate: 1 });
    for (let i = 0; i < 100; i++) all.send(1, 2, i);
    all.sim.run();
    expect(all.inbox.get(2)).toHaveLength(0);
    expect(all.net.stats).toMatchObject({ sent: 100, delivered: 0, dropped: 100, droppedByFault: 100 });

    const some = setup(3, { dropRate: 0.3 });
    for (let i = 0; i < 2000; i++) some.send(1, 2, i);
    some.sim.run();
    const { delivered, dropped } = some.net.stats;
    expect(delivered + dropped).toBe(2000);
    expect(dropped).toBeGreaterThan(500);
    expect(dropped).toBeLessThan(700);
  });

  it('duplicates at duplicateRate, each copy with its own delay', () => {
    const { sim, net, inbox, send } = setup(4, { duplicateRate: 1, delayMs: { min: 1, max: 50 } });
    for (let i = 0; i < 100; i++) send(1, 2, i);
    sim.run();
    const got = inbox.get(2)!;
    expect(got).toHaveLength(200);
    for (let i = 0; i < 100; i++) expect(got.filter((r) => r.m.index === i)).toHaveLength(2);
    expect(net.stats).toMatchObject({ sent: 100, delivered: 200, duplicated: 100 });
  });

  it('lets knobs change at run time', () => {
    const { sim, net, inbox, send } = setup(5);
    send(1, 2, 1);
    sim.run();
    net.configure({ dropRate: 1 });
    send(1, 2, 2);
    sim.run();
    net.configure({ dropRate: 0, delayMs: { min: 100, max: 100 } });
    const before = sim.now();
    send(1, 2, 3);
    sim.run();
    expect(indices(inbox.get(2)!)).toEqual([1, 3]);
    expect(inbox.get(2)![1]!.at - before).toBe(100 * US_PER_MS);
    expect(net.faults.dropRate).toBe(0);
    expect(() => net.configure({ dropRate: 1.5 })).toThrow(/INVARIANT/);
    expect(() => net.configure({ delayMs: { min: 5, max: 1 } })).toThrow(/INVARIANT/);
  });
});

describe('SimNetwork partitions', () => {
  it('block is one-way', () => {
    const { sim, net, inbox, send } = setup();
    net.block(1, 2);
    send(1, 2);
    send(2, 1);
    sim.run();
    expect(inbox.get(2)).toHaveLength(0);
    expect(inbox.get(1)).toHaveLength(1);
    expect(net.stats).toMatchObject({ dropped: 1, droppedByPartition: 1 });
  });

  it('partition is symmetric between groups and heal restores everything', () => {
    const { sim, net, inbox, send } = setup(1, {}, [1, 2, 3, 4, 5]);
    net.partition([
      [1, 2],
      [3, 4, 5],
    ]);
    for (const a of [1, 2, 3, 4, 5]) for (const b of [1, 2, 3, 4, 5]) if (a !== b) send(a, b);
    sim.run();
    const from = (id: number) => inbox.get(id)!.map((r) => r.m.from).sort();
    expect(from(1)).toEqual([2]);
    expect(from(3)).toEqual([4, 5]);
    net.heal();
    send(1, 3);
    sim.run();
    expect(from(3)).toEqual([1, 4, 5]);
  });

  it('isolate in, out and both', () => {
    for (const [mode, in3, out3] of [
      [undefined, 0, 0],
      ['in', 0, 1],
      ['out', 1, 0],
    ] as const) {
      const { sim, net, inbox, send } = setup();
      net.isolate(3, mode === undefined ? {} : { oneWay: mode });
      send(1, 3);
      send(3, 1);
      sim.run();
      expect([inbox.get(3)!.length, inbox.get(1)!.length]).toEqual([in3, out3]);
    }
  });

  it('connectOnly gives partial connectivity', () => {
    const { sim, net, inbox, send } = setup();
    net.connectOnly(1, [2]);
    send(1, 2);
    send(1, 3);
    send(3, 1);
    send(3, 2);
    sim.run();
    expect(inbox.get(2)!.map((r) => r.m.from)).toEqual([1, 3]);
    expect(inbox.get(3)).toHaveLength(0);
    expect(inbox.get(1)).toHaveLength(0);
  });

  it('does not catch messages already in flight when a partition starts', () => {
    const { sim, net, inbox, send } = setup(1, { delayMs: { min: 10, max: 10 } });
    send(1, 2);
    sim.schedule(5 * US_PER_MS, ENVIRONMENT, () => net.isolate(2));
    sim.run();
    expect(inbox.get(2)).toHaveLength(1);
  });
});

describe('SimNetwork and node failures', () => {
  it('drops messages that reach an unregistered (crashed) node, and delivers after re-registering', () => {
    const { sim, net, inbox, send } = setup(1, { delayMs: { min: 10, max: 10 } });
    send(1, 2, 1);
    sim.schedule(5 * US_PER_MS, ENVIRONMENT, () => net.unregister(2));
    sim.run();
    expect(net.stats).toMatchObject({ delivered: 0, dropped: 1, droppedDown: 1 });
    net.register(2, (m) => inbox.get(2)!.push({ at: sim.now(), m }));
    send(1, 2, 2);
    sim.run();
    expect(indices(inbox.get(2)!)).toEqual([2]);
    expect(() => net.register(2, () => {})).toThrow(/INVARIANT/);
  });

  it('crashing the receiver in the simulator drops its in-flight messages', () => {
    const { sim, inbox, send } = setup(1, { delayMs: { min: 10, max: 10 } });
    send(1, 2, 1);
    sim.schedule(5 * US_PER_MS, ENVIRONMENT, () => sim.crash(2));
    sim.run();
    send(1, 2, 2);
    sim.run();
    expect(indices(inbox.get(2)!)).toEqual([2]);
  });

  it('holds messages for a paused receiver and delivers them in order on resume', () => {
    const { sim, inbox, send } = setup(1, { delayMs: { min: 1, max: 1 } });
    sim.pause(2);
    for (let i = 0; i < 5; i++) sim.schedule(i * US_PER_MS, ENVIRONMENT, () => send(1, 2, i));
    sim.run({ until: 100 * US_PER_MS });
    expect(inbox.get(2)).toHaveLength(0);
    sim.resume(2);
    sim.run();
    expect(indices(inbox.get(2)!)).toEqual([0, 1, 2, 3, 4]);
    expect(inbox.get(2)!.every((r) => r.at === 100 * US_PER_MS)).toBe(true);
  });
});

describe('SimNetwork message isolation and checks', () => {
  it('a receiver mutating its message affects neither the sender nor a duplicate', () => {
    const sim = new Simulator();
    const faults = { duplicateRate: 1 };
    const net = new SimNetwork({ sim, random: new SeededRandom(1), trace: new TraceHash(), faults });
    const seen: Message[] = [];
    net.register(2, (m) => {
      seen.push({ ...m, entries: [...m.entries] });
      m.term = 999;
      m.entries.length = 0;
    });
    net.register(1, () => {});
    const entry = { term: 1, index: 1, type: 0, data: new Uint8Array([7]) };
    const sent = message({ type: 'app', from: 1, to: 2, term: 1, entries: [entry] });
    net.transportFor(1).send(sent);
    sent.commit = 42; // the sender reusing its object after send must not change what is in flight
    sim.run();
    expect(seen).toHaveLength(2);
    for (const m of seen) expect([m.term, m.entries.length, m.commit]).toEqual([1, 1, 0]);
    expect(sent.term).toBe(1);
    expect(sent.entries).toHaveLength(1);
  });

  it('rejects a forged sender, an invalid destination and local-only types', () => {
    const { net } = setup();
    const t = net.transportFor(1);
    expect(() => t.send(message({ type: 'app', from: 2, to: 3 }))).toThrow(/INVARIANT/);
    expect(() => t.send(message({ type: 'app', from: 1, to: 0 }))).toThrow(/INVARIANT/);
    expect(() => t.send(message({ type: 'unreachable', from: 1, to: 2 }))).toThrow(/INVARIANT/);
  });
});

describe('SimNetwork determinism', () => {
  function run(seed: number): { order: string; hash: string; stats: string } {
    const nodes = [1, 2, 3, 4, 5];
    const faults = {
      dropRate: 0.1,
      duplicateRate: 0.1,
      delayMs: { min: 1, max: 10 },
      longDelayRate: 0.05,
      longDelayMs: { min: 20, max: 200 },
    };
    const { sim, trace, net, send } = setup(seed, faults, nodes);
    const order: string[] = [];
    for (const id of nodes) {
      net.unregister(id);
      net.register(id, (m) => {
        order.push(`${m.from}>${m.to}:${m.index}@${sim.now()}`);
        // Replies make later traffic depend on earlier delivery order.
        if (m.index < 6) send(m.to, m.from, m.index + 1);
      });
    }
    const r = new SeededRandom(seed).fork('workload');
    for (let i = 0; i < 300; i++) {
      const from = r.pick(nodes);
      const to = r.pick(nodes.filter((n) => n !== from));
      sim.schedule(r.range(0, 100_000), ENVIRONMENT, () => send(from, to, 0));
    }
    sim.schedule(40_000, ENVIRONMENT, () => net.partition([[1, 2], [3, 4, 5]]));
    sim.schedule(70_000, ENVIRONMENT, () => net.heal());
    sim.run();
    return { order: order.join(' '), hash: trace.hex(), stats: JSON.stringify(net.stats) };
  }

  it('gives the same delivery order, trace hash and counters for the same seed', () => {
    const a = run(17);
    const b = run(17);
    expect(a).toEqual(b);
    const c = run(18);
    expect(c.hash).not.toBe(a.hash);
    expect(c.order).not.toBe(a.order);
  });

  it('records deliveries in the trace, including entry terms and indices', () => {
    const { sim, trace, net } = setup();
    const entries = [2, 3].map((index) => ({ term: 4, index, type: 0, data: new Uint8Array() }));
    net.transportFor(1).send(message({ type: 'app', from: 1, to: 2, term: 4, index: 1, logTerm: 3, entries }));
    sim.run();
    expect(trace.count).toBe(1);
    const line = trace.recent()[0]!;
    expect(line.startsWith('deliver ')).toBe(true);
    expect(line.endsWith(' 2 2 4 3 4')).toBe(true);
  });

  it('forks its own stream without consuming the one it was given', () => {
    const sim = new Simulator();
    const root = new SeededRandom(5);
    new SimNetwork({ sim, random: root, trace: new TraceHash() });
    expect(root.nextUint32()).toBe(new SeededRandom(5).nextUint32());
  });
});
