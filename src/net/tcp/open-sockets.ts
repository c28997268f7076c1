/**
 * The sockets a listener or network owns, so that close() can destroy them all and wait until
 * each has really closed. A socket tracked after closing began is destroyed at once.
 */
import type net from 'node:net';

export class OpenSockets {
  private readonly closed = new Map<net.Socket, Promise<void>>();

  constructor(private readonly closing: () => boolean) {}

  get size(): number {
    return this.closed.size;
  }

  track(socket: net.Socket): void {
    if (this.closed.has(socket)) return;
    this.closed.set(
      socket,
      new Promise<void>((resolve) =>
        socket.once('close', () => {
          this.closed.delete(socket);
          resolve();
        }),
      ),
    );
    // Errors are handled by the socket's owner; this listener only guarantees one exists from the start.
    socket.on('error', () => {});
    if (this.closing()) socket.destroy();
  }

  /** Destroys every socket; resolves once all of them have closed. */
  destroyAll(): Promise<void> {
    const waits = [...this.closed.values()];
    for (const s of this.closed.keys()) s.destroy();
    return Promise.all(waits).then(() => undefined);
  }
}
