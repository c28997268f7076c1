/**
 * A TCP proxy for one directed peer link: node i dials node j through it. The harness owns it,
 * so it can cut the link and restore it without touching either process.
 *
 *   const p = await LinkProxy.start({ name: '1->2', target: { host, port: port2 } });
 *   // node 1's --peers says 2=127.0.0.1:<p.port>
 *   p.partition('blackhole'); ...; p.heal(); ...; await p.close();
 *
 * partition(mode) destroys every connection in flight (both sides, at once), and from then on
 * each new connection is either
 * - 'blackhole': accepted and held, its bytes read and discarded, nothing forwarded: the dialler
 *   sees a connection that never answers (its handshake times out), as behind a dropped route;
 * - 'refuse': reset as soon as it is accepted: the dialler sees an immediate failure.
 * heal() destroys the held connections (so their diallers redial promptly instead of waiting out
 * a handshake timeout) and forwards new connections again. Nothing is replayed: a partition loses
 * whatever was in flight, as a real one would, and Raft retransmits what matters.
 *
 * Peer connections are one-way (peer-link.ts: messages flow from dialler to acceptor), so the
 * proxy of link i->j carries only i's messages to j; cutting i off from j in both directions
 * takes the proxies of i->j and j->i (proxy-mesh.ts).
 *
 * Bounds: at most MAX_PROXY_CONNECTIONS forwarded connections and MAX_HELD_CONNECTIONS held ones
 * (beyond them a new connection is reset). Forwarding stops reading one side while the other
 * side's socket holds unsent bytes past its high-water mark and resumes on 'drain', so a
 * direction buffers at most one high-water mark plus one read chunk; should it ever hold more
 * than PROXY_BUFFER_LIMIT_BYTES, the pair is destroyed rather than allowed to grow.
 */
import net from 'node:net';
import { LOOPBACK } from './ports.ts';

/** Unsent bytes one direction of one forwarded connection may hold (one high-water mark + one read chunk fit well within). */
export const PROXY_BUFFER_LIMIT_BYTES = 256 * 1024;
/** Forwarded connections per proxy (a node keeps two lanes per peer, plus redials in progress). */
export const MAX_PROXY_CONNECTIONS = 64;
/** Black-holed connections held per proxy while partitioned. */
export const MAX_HELD_CONNECTIONS = 64;

export type PartitionMode = 'blackhole' | 'refuse';

export interface Target {
  readonly host: string;
  readonly port: number;
}

export interface LinkProxyOptions {
  /** For messages, e.g. '1->2'. */
  readonly name: string;
  readonly target: Target;
  /** Where to listen; default loopback. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
}

export interface LinkProxyStats {
  readonly accepted: number;
  readonly forwardedBytes: number;
  /** Connections reset on arrival: refused while partitioned, over a bound, or the target not listening. */
  readonly reset: number;
  /** Connections destroyed by partition() or heal(). */
  readonly cut: number;
  /** Pairs destroyed because a direction exceeded PROXY_BUFFER_LIMIT_BYTES (should stay 0). */
  readonly overLimit: number;
  readonly active: number;
  readonly held: number;
  /** Unsent bytes the proxy holds now, over every forwarded connection and both directions. */
  readonly buffered: number;
}

interface Pair {
  readonly down: net.Socket;
  readonly up: net.Socket;
}

export class LinkProxy {
  private readonly pairs = new Set<Pair>();
  private readonly held = new Set<net.Socket>();
  private mode: PartitionMode | null = null;
  private closed = false;
  private counts = { accepted: 0, forwardedBytes: 0, reset: 0, cut: 0, overLimit: 0 };

  private constructor(
    readonly name: string,
    readonly target: Target,
    private readonly server: net.Server,
  ) {}

  static async start(o: LinkProxyOptions): Promise<LinkProxy> {
    const server = net.createServer({ pauseOnConnect: true });
    const proxy = new LinkProxy(o.name, o.target, server);
    server.on('connection', (s) => proxy.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: o.host ?? LOOPBACK, port: o.port ?? 0 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // A listener error after start (none are expected on loopback) must not crash the harness.
    server.on('error', () => {});
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** The current partition mode, null while forwarding. */
  get partitioned(): PartitionMode | null {
    return this.mode;
  }

  stats(): LinkProxyStats {
    let buffered = 0;
    for (const p of this.pairs) buffered += p.down.writableLength + p.up.writableLength;
    return { ...this.counts, active: this.pairs.size, held: this.held.size, buffered };
  }

  /** Cuts every connection in flight; new ones are held silently or reset, per `mode`. Idempotent. */
  partition(mode: PartitionMode = 'blackhole'): void {
    this.mode = mode;
    for (const p of [...this.pairs]) this.destroyPair(p, true);
  }

  /** Forwards new connections again; held ones are destroyed so their diallers redial. Idempotent. */
  heal(): void {
    this.mode = null;
    for (const s of [...this.held]) {
      this.held.delete(s);
      this.counts.cut++;
      s.destroy();
    }
  }

  /** Stops listening and destroys every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.mode = 'refuse';
    for (const p of [...this.pairs]) this.destroyPair(p, false);
    for (const s of [...this.held]) s.destroy();
    this.held.clear();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(down: net.Socket): void {
    this.counts.accepted++;
    down.on('error', () => {});
    if (this.closed || this.mode === 'refuse') return this.reset(down);
    if (this.mode === 'blackhole') {
      if (this.held.size >= MAX_HELD_CONNECTIONS) return this.reset(down);
      this.held.add(down);
      down.on('close', () => this.held.delete(down));
      down.on('data', () => {}); // read and discard: nothing is buffered
      down.resume();
      return;
    }
    if (this.pairs.size >= MAX_PROXY_CONNECTIONS) return this.reset(down);
    const up = net.connect({ host: this.target.host, port: this.target.port });
    const pair: Pair = { down, up };
    this.pairs.add(pair);
    let connected = false;
    up.once('connect', () => (connected = true));
    // A target that is not listening (a killed node) is passed on as a reset, the nearest an
    // accepting proxy can come to the refusal the dialler would have seen without it. The peer
    // transport still logs it as AUTH_FAILED (any close during its handshake reads as a refusal);
    // it retries exactly as after a refused connection, so only the log line differs.
    up.on('error', () => {
      if (connected || !this.pairs.delete(pair)) return;
      this.reset(down);
      up.destroy();
    });
    for (const s of [down, up]) {
      s.setNoDelay(true); // Raft heartbeats are small and latency-bound
      s.on('close', () => this.destroyPair(pair, false));
    }
    this.pump(pair, down, up);
    this.pump(pair, up, down);
    down.resume();
  }

  /** Copies `from` to `to`, pausing `from` while `to` is over its high-water mark. */
  private pump(pair: Pair, from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (!this.pairs.has(pair)) return;
      this.counts.forwardedBytes += chunk.byteLength;
      const ok = to.write(chunk);
      if (to.writableLength > PROXY_BUFFER_LIMIT_BYTES) {
        this.counts.overLimit++;
        this.destroyPair(pair, false);
        return;
      }
      if (!ok) from.pause();
    });
    to.on('drain', () => {
      if (this.pairs.has(pair)) from.resume();
    });
  }

  private destroyPair(pair: Pair, cut: boolean): void {
    if (!this.pairs.delete(pair)) return;
    if (cut) this.counts.cut++;
    pair.down.destroy();
    pair.up.destroy();
  }

  private reset(s: net.Socket): void {
    this.counts.reset++;
    // An RST where possible (the dialler sees ECONNRESET at once), else a plain close.
    if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
    else s.destroy();
  }
}
