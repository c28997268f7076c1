/**
 * The harness's link proxy and mesh: bytes are forwarded both ways with backpressure (the proxy
 * never holds more than its bound), partition() cuts live connections and black-holes or refuses
 * new ones, heal() frees the held ones and forwards again; the mesh isolates one node both ways
 * and cuts exactly the directed links it is given (one direction only, or a bridge).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts, LOOPBACK } from '../../harness/ports.ts';
import { LinkProxy, MAX_HELD_CONNECTIONS, PROXY_BUFFER_LIMIT_BYTES } from '../../harness/proxy.ts';
import { planCut } from '../../harness/cuts.ts';
import { ProxyMesh } from '../../harness/proxy-mesh.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A target server: echoes (or, with `paused`, accepts and never reads); counts its connections. */
async function target(o: { paused?: boolean } = {}): Promise<{ port: number; connections: () => number; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  let count = 0;
  const server = net.createServer((s) => {
    count++;
    sockets.push(s);
    s.on('error', () => {});
    if (o.paused) s.pause();
    else s.pipe(s);
  });
  await new Promise<void>((r) => server.listen({ host: LOOPBACK, port: 0 }, () => r()));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as net.AddressInfo).port, connections: () => count, sockets };
}

async function proxyTo(port: number): Promise<LinkProxy> {
  const p = await LinkProxy.start({ name: 'test', target: { host: LOOPBACK, port } });
  cleanups.push(() => p.close());
  return p;
}

function dial(port: number): net.Socket {
  const s = net.connect({ host: LOOPBACK, port });
  s.on('error', () => {});
  cleanups.push(() => void s.destroy());
  return s;
}

function closed(s: net.Socket): Promise<void> {
  return s.closed ? Promise.resolve() : new Promise((r) => s.once('close', () => r()));
}

/** Sends `bytes` and resolves with what comes back once that many bytes arrived. */
function roundTrip(s: net.Socket, bytes: Buffer): Promise<Buffer> {
  const got: Buffer[] = [];
  let n = 0;
  return new Promise((resolve, reject) => {
    s.on('data', (d: Buffer) => {
      got.push(d);
      n += d.length;
      if (n >= bytes.length) resolve(Buffer.concat(got));
    });
    s.once('close', () => reject(new Error(`closed after ${n} of ${bytes.length} bytes`)));
    s.write(bytes);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('harness/ports', () => {
  it('hands out distinct ports that can be bound', async () => {
    const ports = await freePorts(5);
    expect(new Set(ports).size).toBe(5);
    for (const p of ports) expect(p).toBeGreaterThan(0);
    const s = net.createServer();
    await new Promise<void>((r) => s.listen({ host: LOOPBACK, port: ports[0] }, () => r()));
    await new Promise<void>((r) => s.close(() => r()));
  });
});

describe('LinkProxy', () => {
  it('forwards both ways, 2 MiB intact', async () => {
    const t = await target();
    const p = await proxyTo(t.port);
    const s = dial(p.port);
    const data = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
    const back = await roundTrip(s, data);
    expect(back.equals(data)).toBe(true);
    expect(p.stats()).toMatchObject({ accepted: 1, active: 1, forwardedBytes: 2 * data.length, overLimit: 0 });
  });

  it('pushes back on a writer when the far side does not read, holding at most its bound', async () => {
    const t = await target({ paused: true });
    const p = await proxyTo(t.port);
    const s = dial(p.port);
    await new Promise<void>((r) => s.once('connect', () => r()));
    const chunk = Buffer.alloc(256 * 1024, 1);
    for (let i = 0; i < 256; i++) s.write(chunk); // 64 MiB: more than the kernel's socket buffers on the way can absorb
    await sleep(500);
    const st = p.stats();
    expect(st.overLimit).toBe(0);
    expect(st.buffered).toBeLessThanOrEqual(2 * PROXY_BUFFER_LIMIT_BYTES);
    // The rest waits in the writer's own socket: the proxy read no more than the kernel and its bound allow.
    expect(s.writableLength).toBeGreaterThan(32 * 1024 * 1024);
    expect(st.forwardedBytes).toBeLessThan(32 * 1024 * 1024);
  });

  it('partition cuts live connections, black-holes new ones, and heal forwards again', async () => {
    const t = await target();
    const p = await proxyTo(t.port);
    const live = dial(p.port);
    expect((await roundTrip(live, Buffer.from('before'))).toString()).toBe('before');

    p.partition('blackhole');
    await closed(live);
    expect(p.partitioned).toBe('blackhole');

    // A new connection is accepted but goes nowhere: no bytes come back, the target sees nothing.
    const held = dial(p.port);
    await new Promise<void>((r) => held.once('connect', () => r()));
    const echoed: Buffer[] = [];
    held.on('data', (d: Buffer) => echoed.push(d));
    held.write('into the void');
    await sleep(300);
    expect(echoed).toEqual([]);
    expect(t.connections()).toBe(1);
    expect(p.stats().held).toBe(1);

    p.heal();
    await closed(held); // freed, so its dialler redials instead of waiting out a timeout
    expect(p.partitioned).toBe(null);
    const after = dial(p.port);
    expect((await roundTrip(after, Buffer.from('after'))).toString()).toBe('after');
    expect(t.connections()).toBe(2);
    expect(p.stats().cut).toBe(2); // the live pair and the held one
  });

  it('refuse resets new connections at once', async () => {
    const t = await target();
    const p = await proxyTo(t.port);
    p.partition('refuse');
    const s = dial(p.port);
    const t0 = Date.now();
    await closed(s);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(t.connections()).toBe(0);
    expect(p.stats().reset).toBe(1);
  });

  it('passes a target that is not listening on as a reset', async () => {
    const [deadPort] = await freePorts(1);
    const p = await proxyTo(deadPort!);
    const s = dial(p.port);
    const err = new Promise<NodeJS.ErrnoException | null>((resolve) => {
      s.once('error', (e) => resolve(e));
      s.once('close', () => resolve(null));
    });
    s.write('hello');
    expect((await err)?.code).toBe('ECONNRESET');
    expect(p.stats()).toMatchObject({ reset: 1, active: 0 });
  });

  it('holds at most MAX_HELD_CONNECTIONS black-holed connections', async () => {
    const t = await target();
    const p = await proxyTo(t.port);
    p.partition('blackhole');
    const sockets = Array.from({ length: MAX_HELD_CONNECTIONS + 3 }, () => dial(p.port));
    await sleep(300);
    expect(p.stats().held).toBe(MAX_HELD_CONNECTIONS);
    expect(p.stats().reset).toBe(3);
    p.heal();
    await Promise.all(sockets.map(closed));
    expect(p.stats().held).toBe(0);
  });
});

describe('ProxyMesh', () => {
  it('gives each node its peers through its own proxies, and isolates one node both ways', async () => {
    const targets = new Map<number, Awaited<ReturnType<typeof target>>>();
    for (const id of [1, 2, 3]) targets.set(id, await target());
    const mesh = await ProxyMesh.start([1, 2, 3], (id) => ({ host: LOOPBACK, port: targets.get(id)!.port }));
    cleanups.push(() => mesh.close());

    const flag = mesh.peersFlag(1);
    expect(flag).toMatch(/^2=127\.0\.0\.1:\d+,3=127\.0\.0\.1:\d+$/);
    expect(flag).toContain(`2=${LOOPBACK}:${mesh.link(1, 2).port}`);
    expect(mesh.link(1, 2).port).not.toBe(mesh.link(3, 2).port);

    const works = async (from: number, to: number): Promise<boolean> => {
      const s = dial(mesh.link(from, to).port);
      return Promise.race([roundTrip(s, Buffer.from('x')).then(() => true, () => false), sleep(300).then(() => false)]).finally(() => s.destroy());
    };
    mesh.isolate(2);
    expect(mesh.isolated()).toEqual([2]);
    expect(await works(1, 2)).toBe(false);
    expect(await works(2, 1)).toBe(false);
    expect(await works(3, 2)).toBe(false);
    expect(await works(2, 3)).toBe(false);
    expect(await works(1, 3)).toBe(true);
    expect(await works(3, 1)).toBe(true);
    mesh.heal();
    expect(mesh.isolated()).toEqual([]);
    for (const [a, b] of [[1, 2], [2, 1], [2, 3], [3, 2]] as const) expect(await works(a, b)).toBe(true);
  });

  /** A mesh of echo targets, and probes of one directed link through its proxy. */
  async function meshOf(ids: number[]) {
    const targets = new Map<number, Awaited<ReturnType<typeof target>>>();
    for (const id of ids) targets.set(id, await target());
    const mesh = await ProxyMesh.start(ids, (id) => ({ host: LOOPBACK, port: targets.get(id)!.port }));
    cleanups.push(() => mesh.close());
    // A forwarding link echoes at once; the generous wait only matters on a loaded machine.
    const passes = async (from: number, to: number): Promise<boolean> => {
      const s = dial(mesh.link(from, to).port);
      return Promise.race([roundTrip(s, Buffer.from('x')).then(() => true, () => false), sleep(5_000).then(() => false)]).finally(() => s.destroy());
    };
    // A cut link never echoes, so a short look suffices: it cannot pass by being slow.
    const blocked = async (from: number, to: number): Promise<boolean> => {
      const s = dial(mesh.link(from, to).port);
      return Promise.race([roundTrip(s, Buffer.from('x')).then(() => false, () => true), sleep(300).then(() => true)]).finally(() => s.destroy());
    };
    return { mesh, passes, blocked };
  }

  it('a one-way cut drops exactly one direction: the reverse link keeps its live connection and takes new ones', async () => {
    const { mesh, passes, blocked } = await meshOf([1, 2, 3]);
    // Live connections on both directions of the pair, before the cut.
    const there = dial(mesh.link(1, 2).port);
    const back = dial(mesh.link(2, 1).port);
    expect((await roundTrip(there, Buffer.from('a'))).toString()).toBe('a');
    expect((await roundTrip(back, Buffer.from('b'))).toString()).toBe('b');

    mesh.cut([{ from: 1, to: 2 }]);
    expect(mesh.cutLinks()).toEqual([{ from: 1, to: 2 }]);
    expect(mesh.isolated()).toEqual([]);
    await closed(there); // 1's messages to 2 in flight are lost
    expect(back.destroyed).toBe(false);
    expect((await roundTrip(back, Buffer.from('still'))).toString()).toBe('still'); // 2's messages to 1 still flow, on the same connection
    expect(await blocked(1, 2)).toBe(true);
    for (const [a, b] of [[2, 1], [1, 3], [3, 1], [2, 3], [3, 2]] as const) expect(await passes(a, b), `${a}->${b}`).toBe(true);

    mesh.heal();
    expect(mesh.cutLinks()).toEqual([]);
    expect(await passes(1, 2)).toBe(true);
  });

  it('cuts the links a plan names and no others: a 5-node bridge', async () => {
    const ids = [1, 2, 3, 4, 5];
    const { mesh, passes, blocked } = await meshOf(ids);
    const plan = planCut('bridge', 3, ids, { inbound: false, peers: 4, order: [3, 1, 0, 2] }); // {2,3} | 5 | {1,4}
    mesh.cut(plan.links);
    expect(mesh.cutLinks()).toEqual(plan.links);
    const isCut = (a: number, b: number) => plan.links.some((l) => l.from === a && l.to === b);
    const pairs = ids.flatMap((a) => ids.filter((b) => b !== a).map((b) => [a, b] as const));
    const seen = await Promise.all(pairs.map(async ([a, b]) => `${a}->${b} ${(isCut(a, b) ? await blocked(a, b) : !(await passes(a, b))) ? 'cut' : 'forwards'}`));
    expect(seen).toEqual(pairs.map(([a, b]) => `${a}->${b} ${isCut(a, b) ? 'cut' : 'forwards'}`));
    expect(() => mesh.cut([{ from: 1, to: 2 }, { from: 1, to: 9 }])).toThrow(/no proxy for 1->9/);
    expect(mesh.cutLinks()).toEqual(plan.links); // nothing was cut by the refused call
  });
});
