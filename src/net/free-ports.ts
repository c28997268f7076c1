/**
 * Free loopback ports (for the harness, the demo and the benchmarks): each is found by listening on port 0
 * and reading what the OS picked. All `n` listeners are open at once (so the ports are distinct),
 * then closed. Another program could take a port between this call and its use; on a CI machine
 * that race is rare, and a node that cannot bind fails its start loudly (harness error, exit 2).
 */
import net from 'node:net';

export const LOOPBACK = '127.0.0.1';
/** Most ports one call hands out (a 9-node mesh needs 9 + 72). */
export const MAX_PORTS_PER_CALL = 256;

export async function freePorts(n: number, host: string = LOOPBACK): Promise<number[]> {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_PORTS_PER_CALL) throw new RangeError(`freePorts: n must be in 0..${MAX_PORTS_PER_CALL}, got ${n}`);
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen({ host, port: 0, exclusive: true }, () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))));
  }
}
