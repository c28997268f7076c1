/**
 * A 3-member etcd cluster on loopback for bench/compare-etcd.ts: the `etcd` binary (installed
 * with apt-get from Debian's `etcd-server` package if absent), one data directory and one log
 * file per member under a given directory, free ports for every client and peer URL, static
 * bootstrap with --initial-cluster, etcd's default durability (WAL fsync on every Raft Ready;
 * --unsafe-no-fsync is NOT passed).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { freePorts } from '../src/net/free-ports.ts';

/** How long the members may take to elect a leader and answer a linearizable get. */
const HEALTHY_TIMEOUT_MS = 30_000;
/** apt-get update + install, at most. */
const APT_TIMEOUT_MS = 10 * 60_000;

export interface EtcdBinary {
  readonly bin: string;
  /** e.g. "3.4.23" */
  readonly version: string;
  /** Whether this run installed it. */
  readonly installed: boolean;
}

function onPath(name: string): string | null {
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) {
    if (d === '') continue;
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

function findEtcd(): string | null {
  const p = onPath('etcd');
  if (p !== null) return p;
  for (const c of ['/usr/bin/etcd', '/usr/local/bin/etcd']) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return null;
}

/** Thrown when etcd is absent and apt-get could not install it (the caller exits 2). */
export class EtcdInstallError extends Error {}

/**
 * The etcd binary, installed with `apt-get update && apt-get install -y etcd-server` if neither
 * on PATH nor in /usr/bin. apt output goes to `logFile` (its tail is in the error on failure).
 */
export function ensureEtcd(logFile: string, say: (line: string) => void = console.log): EtcdBinary {
  let bin = findEtcd();
  let installed = false;
  if (bin === null) {
    say(`etcd not found on PATH nor in /usr/bin: installing Debian package etcd-server with apt-get (log ${logFile})`);
    const log = fs.openSync(logFile, 'a');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'etcd-server']]) {
        const r = spawnSync('apt-get', args, { stdio: ['ignore', log, log], env, timeout: APT_TIMEOUT_MS });
        if (r.error || r.status !== 0) {
          const why = r.error ? r.error.message : `exit status ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}`;
          const tail = safeTail(logFile, 15);
          throw new EtcdInstallError(
            `apt-get ${args.join(' ')} failed: ${why}` +
              (process.getuid?.() !== 0 ? ' (not running as root: install etcd-server yourself, e.g. `sudo apt-get install etcd-server`)' : '') +
              (tail ? `\n--- last lines of ${logFile} ---\n${tail}` : ''),
          );
        }
      }
    } finally {
      fs.closeSync(log);
    }
    bin = findEtcd();
    if (bin === null) throw new EtcdInstallError('apt-get installed etcd-server, but no etcd binary is on PATH or in /usr/bin');
    installed = true;
  }
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const m = /etcd Version:\s*(\S+)/i.exec(`${v.stdout ?? ''}${v.stderr ?? ''}`);
  if (!m) throw new EtcdInstallError(`could not read the version of ${bin}: ${v.error?.message ?? (v.stdout || v.stderr)}`);
  return { bin, version: m[1]!, installed };
}

function safeTail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export interface EtcdCluster {
  /** `http://127.0.0.1:port`, one per member, in member order. */
  readonly clientUrls: readonly string[];
  readonly names: readonly string[];
  /** The client URL of the member that is leader now (asked with Maintenance.Status). */
  leaderClientUrl(): Promise<string>;
  /** Synchronous SIGKILL of every member still running (exit handlers, signals). */
  killNow(): void;
  /** SIGTERM, then SIGKILL after 5 s; resolves once every member has exited. */
  close(): Promise<void>;
}


/**
 * Starts `members` etcd processes (logs in `dir/etcd-N.log`, data in `dir/etcd-N.data`) and
 * resolves once a linearizable get through every member's client URL succeeds. On failure the
 * members started so far are killed before the error propagates.
 */
export async function startEtcd(bin: string, dir: string, members = 3): Promise<EtcdCluster> {
  const names = Array.from({ length: members }, (_, i) => `etcd-${i + 1}`);
  // Distinct ports: freePorts holds all of its listeners open at once.
  const ports = await freePorts(members * 2);
  const [clientPorts, peerPorts] = [ports.slice(0, members), ports.slice(members)];
  const clientUrls = clientPorts.map((p) => `http://127.0.0.1:${p}`);
  const peerUrls = peerPorts.map((p) => `http://127.0.0.1:${p}`);
  const initialCluster = names.map((n, i) => `${n}=${peerUrls[i]}`).join(',');
  const procs: ChildProcess[] = [];
  const exited = new Set<ChildProcess>();

  const killNow = () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  };
  const close = async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (exited.has(p) || p.exitCode !== null || p.signalCode !== null) return resolve();
            const hard = setTimeout(() => p.kill('SIGKILL'), 5_000);
            p.once('exit', () => {
              clearTimeout(hard);
              resolve();
            });
            p.kill('SIGTERM');
          }),
      ),
    );
  };

  try {
    for (let i = 0; i < members; i++) {
      const log = fs.openSync(path.join(dir, `${names[i]}.log`), 'a');
      const args = [
        '--name', names[i]!,
        '--data-dir', path.join(dir, `${names[i]}.data`),
        '--listen-client-urls', clientUrls[i]!,
        '--advertise-client-urls', clientUrls[i]!,
        '--listen-peer-urls', peerUrls[i]!,
        '--initial-advertise-peer-urls', peerUrls[i]!,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', `compare-etcd-${process.pid}`,
        '--logger', 'zap',
        '--log-outputs', 'stderr',
        '--log-level', 'warn',
      ];
      const p = spawn(bin, args, { stdio: ['ignore', log, log] });
      fs.closeSync(log);
      p.once('exit', () => exited.add(p));
      procs.push(p);
    }
    await waitHealthy(clientUrls, procs, names, dir);
  } catch (e) {
    killNow();
    throw e;
  }

  return {
    clientUrls,
    names,
    async leaderClientUrl() {
      for (const url of clientUrls) {
        const c = new Etcd3({ hosts: [url], defaultCallOptions: () => ({ deadline: Date.now() + 5_000 }) });
        try {
          const s = await c.maintenance.status();
          if (s.header.member_id === s.leader) return url;
        } catch {
          // ask the next one
        } finally {
          c.close();
        }
      }
      throw new Error('no etcd member says it is the leader');
    },
    killNow,
    close,
  };
}

async function waitHealthy(urls: readonly string[], procs: readonly ChildProcess[], names: readonly string[], dir: string): Promise<void> {
  const deadline = Date.now() + HEALTHY_TIMEOUT_MS;
  for (const url of urls) {
    for (;;) {
      const dead = procs.findIndex((p) => p.exitCode !== null || p.signalCode !== null);
      if (dead >= 0) {
        const log = path.join(dir, `${names[dead]}.log`);
        throw new Error(`${names[dead]} exited (${procs[dead]!.exitCode ?? procs[dead]!.signalCode}) while starting; ${log}:\n${safeTail(log, 10)}`);
      }
      const c = new Etcd3({ hosts: [url], defaultCallOptions: () => ({ deadline: Date.now() + 1_000 }) });
      try {
        await c.get('compare-etcd/health').exec(); // linearizable: needs a leader and a quorum
        break;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`etcd at ${url} not healthy within ${HEALTHY_TIMEOUT_MS} ms: ${String(e)}`);
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        c.close();
      }
    }
  }
}
