/**
 * Writes a frame with the socket corked until the end of the current turn: the frames written
 * in one turn (a batch of responses, a burst of requests) leave in one system call instead of
 * one each. Node's recommended pattern: cork, write, uncork on the next tick.
 */
import type net from 'node:net';

const corked = new WeakSet<net.Socket>();

export function writeCorked(socket: net.Socket, frame: Uint8Array): boolean {
  if (!corked.has(socket)) {
    corked.add(socket);
    socket.cork();
    process.nextTick(() => {
      corked.delete(socket);
      socket.uncork();
    });
  }
  return socket.write(frame);
}
