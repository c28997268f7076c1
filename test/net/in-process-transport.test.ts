import { describe, expect, it } from 'vitest';
import { InProcessNetwork } from '../../src/net/in-process-transport.ts';
import { message, type Message } from '../../src/raft/types.ts';

const hb = (from: number, to: number, term: number): Message => message({ type: 'heartbeat', from, to, term });
const macrotask = () => new Promise((r) => setImmediate(r));

describe('InProcessNetwork', () => {
  it('never delivers inside send: delivery happens on a later macrotask', async () => {
    const net = new InProcessNetwork();
    const got: Message[] = [];
    net.register(2, (m) => got.push(m));
    net.transportFor(1).send(hb(1, 2, 1));
    expect(got).toEqual([]);
    await Promise.resolve();
    expect(got).toEqual([]);
    await macrotask();
    expect(got.map((m) => m.term)).toEqual([1]);
  });

  it('keeps each link in FIFO order, also for messages sent while delivering', async () => {
    const net = new InProcessNetwork();
    const got: string[] = [];
    const t1 = net.transportFor(1);
    const t3 = net.transportFor(3);
    net.register(2, (m) => {
      got.push(`${m.from}:${m.term}`);
      if (m.from === 1 && m.term === 2) t1.send(hb(1, 2, 99)); // a reply-like send mid-drain
    });
    for (let i = 1; i <= 5; i++) {
      t1.send(hb(1, 2, i));
      t3.send(hb(3, 2, i));
    }
    for (let i = 0; i < 3; i++) await macrotask();
    expect(got.filter((x) => x.startsWith('1:'))).toEqual(['1:1', '1:2', '1:3', '1:4', '1:5', '1:99']);
    expect(got.filter((x) => x.startsWith('3:'))).toEqual(['3:1', '3:2', '3:3', '3:4', '3:5']);
    expect(net.delivered).toBe(11);
  });

  it('drops messages to unregistered nodes, including those queued before unregister', async () => {
    const net = new InProcessNetwork();
    const got: Message[] = [];
    net.register(2, (m) => got.push(m));
    net.transportFor(1).send(hb(1, 3, 1)); // nobody at 3
    net.transportFor(1).send(hb(1, 2, 1));
    net.unregister(2);
    await macrotask();
    expect(got).toEqual([]);
    expect(net.dropped).toBe(2);
    net.register(2, (m) => got.push(m));
    net.transportFor(1).send(hb(1, 2, 2));
    await macrotask();
    expect(got.map((m) => m.term)).toEqual([2]);
  });

  it('copies messages at send time, so the sender may reuse its object', async () => {
    const net = new InProcessNetwork();
    const got: Message[] = [];
    net.register(2, (m) => got.push(m));
    const m = hb(1, 2, 1);
    net.transportFor(1).send(m);
    m.term = 7;
    m.entries.push({ term: 1, index: 1, type: 0, data: new Uint8Array() } as never);
    await macrotask();
    expect(got[0]!.term).toBe(1);
    expect(got[0]!.entries).toEqual([]);
  });

  it('reports a throwing receiver and still delivers the rest of the batch', async () => {
    const errors: unknown[] = [];
    const net = new InProcessNetwork({ onReceiveError: (e) => errors.push(e) });
    const got: number[] = [];
    net.register(2, (m) => {
      if (m.term === 1) throw new Error('boom');
      got.push(m.term);
    });
    net.transportFor(1).send(hb(1, 2, 1));
    net.transportFor(1).send(hb(1, 2, 2));
    await macrotask();
    expect(errors).toHaveLength(1);
    expect(got).toEqual([2]);
  });

  it('refuses to send a message on behalf of another node', () => {
    const net = new InProcessNetwork();
    expect(() => net.transportFor(1).send(hb(2, 3, 1))).toThrow(RangeError);
  });
});
