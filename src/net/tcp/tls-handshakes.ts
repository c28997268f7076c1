/**
 * The accepted TCP connections of a TLS listener whose TLS handshake has not finished, so that
 * a listener can bound how many there are (each costs a socket and OpenSSL state until the
 * handshake deadline) and start a connection's deadline at accept, not at the end of TLS.
 *
 * Node's TLS server hands out the raw socket at accept and, later, a different object (the
 * TLSSocket) once the handshake is done, with no public link between the two: they are paired
 * by the connection's addresses and ports, which no two open connections share.
 */
import type net from 'node:net';

export class TlsHandshakes {
  private readonly open = new Map<string, { readonly raw: net.Socket; readonly started: number }>();

  get size(): number {
    return this.open.size;
  }

  /** A raw socket just accepted: its handshake begins now. It leaves on finish() or when it closes. */
  begin(raw: net.Socket): void {
    const key = connectionKey(raw);
    this.open.set(key, { raw, started: performance.now() });
    raw.once('close', () => {
      if (this.open.get(key)?.raw === raw) this.open.delete(key);
    });
  }

  /** The TLS socket of a finished handshake; returns when its connection was accepted (now, if unknown). */
  finish(secured: net.Socket): number {
    const key = connectionKey(secured);
    const entry = this.open.get(key);
    this.open.delete(key);
    return entry?.started ?? performance.now();
  }
}

function connectionKey(s: net.Socket): string {
  return `${s.remoteAddress}|${s.remotePort}|${s.localAddress}|${s.localPort}`;
}
