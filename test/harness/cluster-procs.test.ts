/**
 * `tessera serve` children under the harness: start and wait for "started", SIGSTOP/SIGCONT,
 * SIGKILL and restart on the same port and directory, cleanup of a stopped child, and a child
 * that dies on its own being noticed. One single-node cluster keeps it quick.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterProcs } from '../../harness/cluster-procs.ts';
import { freePorts, LOOPBACK } from '../../harness/ports.ts';

/** The process state letter ps reports (R, S, T, ...), undefined if there is no such process. */
function stateOf(pid: number): string | undefined {
  try {
    return execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim()[0];
  } catch {
    return undefined; // ps exits 1 when the pid is gone
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    const s = stateOf(pid);
    if (s === undefined || s === 'Z') return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: LOOPBACK, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('ClusterProcs', () => {
  let dir: string;
  let procs: ClusterProcs;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-procs-'));
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, 'a cluster-procs test secret.....\n');
    const [port] = await freePorts(1);
    procs = new ClusterProcs({ ids: [1], ports: new Map([[1, port!]]), peersFlag: () => '', dir, secretFile, clusterId: 'procs-test', tickMs: 20 });
  });

  afterAll(async () => {
    procs.killAllSync();
    await procs.stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts a node, stops and continues it, kills and restarts it on the same port', async () => {
    await procs.start(1);
    expect(procs.state(1)).toBe('running');
    expect(await accepts(procs.port(1))).toBe(true);

    const pid = procs.pid(1)!;
    procs.pause(1);
    expect(procs.state(1)).toBe('paused');
    expect(stateOf(pid)).toBe('T');
    procs.resume(1);
    expect(stateOf(pid)).not.toBe('T');

    await procs.kill(1);
    expect(procs.state(1)).toBe('stopped');
    expect(await gone(pid)).toBe(true);
    expect(await accepts(procs.port(1))).toBe(false);
    await procs.restart(1);
    expect(procs.pid(1)).not.toBe(pid);
    expect(await accepts(procs.port(1))).toBe(true);

    // The log file is written asynchronously: give it a moment to catch up with what was seen.
    const startedLines = () => fs.readFileSync(procs.logFile(1), 'utf8').match(/"msg":"started"/g)?.length ?? 0;
    for (let i = 0; i < 50 && startedLines() < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const log = fs.readFileSync(procs.logFile(1), 'utf8');
    expect(log.match(/"msg":"started"/g)).toHaveLength(2);
    expect(log.match(/"harness":"spawn"/g)).toHaveLength(2);
    expect(procs.unexpectedExits).toEqual([]);
  });

  it('cleanup kills a stopped child (SIGCONT, SIGKILL) without counting it as a failure', async () => {
    if (procs.state(1) === 'stopped') await procs.start(1);
    const pid = procs.pid(1)!;
    procs.pause(1);
    expect(stateOf(pid)).toBe('T');
    procs.killAllSync();
    expect(await gone(pid)).toBe(true);
    await procs.stopAll();
    expect(procs.state(1)).toBe('stopped');
    expect(procs.unexpectedExits).toEqual([]);
  });

  it('notices a node that exits when the harness did not kill it', async () => {
    await procs.start(1);
    process.kill(procs.pid(1)!, 'SIGKILL');
    for (let i = 0; i < 50 && procs.state(1) !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(procs.unexpectedExits).toEqual([expect.objectContaining({ id: 1, signal: 'SIGKILL' })]);
  });
});
