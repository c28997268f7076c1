/** Binds a server and resolves with the port it got (port 0: the one the OS picked). */
import type net from 'node:net';
import type { PeerAddress } from './tls.ts';

export async function listenOn(server: net.Server, at: PeerAddress): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  return bound !== null && typeof bound !== 'string' ? bound.port : at.port;
}
