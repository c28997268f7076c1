/**
 * The demo's cluster: three `tessera serve` processes on loopback ports, each with its own data
 * directory and log file, so a node can really be killed (SIGKILL: no shutdown, no flush beyond
 * what was acknowledged) and restarted from its directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../net/free-ports.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/tessera.mjs');
/** How long a process may take to start listening (tsx compiles on first start). */
const START_TIMEOUT_MS = 30_000;

export interface ServerProcesses {
  readonly endpoints: readonly string[];
  readonly secret: string;
  readonly clusterId: string;
  kill(id: number): void;
  restart(id: number): Promise<void>;
  isRunning(id: number): boolean;
  close(): Promise<void>;
}

export async function startServers(dir: string, nodes: number): Promise<ServerProcesses> {
  const secret = 'demo-secret-of-at-least-16-bytes';
  const clusterId = 'tessera-demo';
  const secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, secret);
  const ids = Array.from({ length: nodes }, (_, i) => i + 1);
  const ports = await freePorts(nodes);
  const address = (id: number) => `127.0.0.1:${ports[id - 1]}`;
  const procs = new Map<number, ChildProcess>();
  const args = (id: number) => [
    BIN,
    'serve',
    '--id',
    String(id),
    '--listen',
    address(id),
    '--peers',
    ids.filter((p) => p !== id).map((p) => `${p}=${address(p)}`).join(','),
    '--dir',
    path.join(dir, `node-${id}`),
    '--secret-file',
    secretFile,
    '--cluster-id',
    clusterId,
  ];
  const start = async (id: number): Promise<void> => {
    const log = fs.openSync(path.join(dir, `node-${id}.log`), 'a');
    const p = spawn(process.execPath, args(id), { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    procs.set(id, p);
    await listening(ports[id - 1]!, p);
  };
  await Promise.all(ids.map(start));
  return {
    endpoints: ids.map(address),
    secret,
    clusterId,
    kill(id) {
      procs.get(id)?.kill('SIGKILL');
      procs.delete(id);
    },
    restart: start,
    isRunning: (id) => procs.has(id),
    async close() {
      await Promise.all(
        [...procs.values()].map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null) return resolve();
              p.once('exit', () => resolve());
              p.kill('SIGTERM');
            }),
        ),
      );
      procs.clear();
    },
  };
}


/** Resolves once something accepts connections on the port; rejects if the process exits first. */
async function listening(port: number, p: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (p.exitCode !== null) throw new Error(`tessera serve exited with ${p.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`tessera serve did not listen on ${port} within ${START_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
