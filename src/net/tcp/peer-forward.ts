/**
 * Hands a peer's connection, accepted on the shared port, to the node's TcpNetwork, which
 * listens on a loopback port of its own: the bytes already read (its first frame and whatever
 * followed) are replayed, then both directions are piped (with their backpressure).
 *
 * Why a hop: TcpNetwork owns its listener and has no call to adopt a socket accepted elsewhere.
 * The hop costs a loopback copy of peer traffic; everything it carries is still authenticated
 * end to end by the peer handshake. Were TcpNetwork to gain `adopt(socket, head)`, this file is
 * the one place to change.
 */
import net from 'node:net';
import { KEEPALIVE_MS } from './tcp-tuning.ts';
import type { PeerAddress } from './tls.ts';

export function forwardPeer(socket: net.Socket, head: Uint8Array, target: PeerAddress, track: (socket: net.Socket) => void): void {
  const upstream = net.connect({ host: target.host, port: target.port });
  track(upstream);
  const teardown = (): void => {
    socket.destroy();
    upstream.destroy();
  };
  for (const s of [socket, upstream]) {
    s.setNoDelay(true); // heartbeats are small and latency-bound
    s.on('error', () => teardown());
    s.on('close', () => teardown());
  }
  socket.setKeepAlive(true, KEEPALIVE_MS);
  upstream.write(head);
  socket.pipe(upstream);
  upstream.pipe(socket);
}
