/**
 * `tessera serve` as real processes, driven by the `tessera` CLI: put/get/status against three
 * children, SIGTERM exits 0 after a graceful shutdown with JSON-line logs, and the data is there
 * when they start again. Ports come from the OS (bound, noted, released), loopback only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/tessera.mjs');
const HOST = '127.0.0.1';

interface Child {
  readonly id: number;
  readonly proc: ChildProcess;
  readonly stderr: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve) => {
      const s = net.createServer();
      s.listen({ host: HOST, port: 0 }, () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function tessera(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('tessera serve as processes', () => {
  let dir: string;
  let ports: number[];
  let secretFile: string;
  const children = new Map<number, Child>();

  const endpoints = () => ports.map((p) => `${HOST}:${p}`).join(',');
  const common = () => ['--secret-file', secretFile, '--cluster-id', 'proc-test'];

  function serve(id: number): Child {
    const peers = ports.map((p, i) => `${i + 1}=${HOST}:${p}`).join(',');
    const proc = spawn(
      process.execPath,
      [BIN, 'serve', '--id', String(id), '--listen', `${HOST}:${ports[id - 1]}`, '--peers', peers, '--dir', path.join(dir, `n${id}`), ...common(), '--tick-ms', '20'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const stderr: string[] = [];
    let partial = '';
    proc.stderr!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      stderr.push(...lines);
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.on('exit', (code, signal) => r({ code, signal })));
    const child = { id, proc, stderr, exited };
    children.set(id, child);
    return child;
  }

  async function started(c: Child): Promise<void> {
    const end = Date.now() + 20_000;
    while (!c.stderr.some((l) => l.includes('"msg":"started"'))) {
      if (c.proc.exitCode !== null || Date.now() > end) throw new Error(`node ${c.id} did not start:\n${c.stderr.join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-'));
    secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, 'a process-test secret, 32 bytes!\n');
    ports = await freePorts(3);
    await Promise.all([1, 2, 3].map((id) => started(serve(id))));
  });

  afterAll(async () => {
    for (const c of children.values()) c.proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('put, get and status through the CLI', async () => {
    const put = await tessera(['put', 'greeting', 'hello over tcp', '--endpoints', `${HOST}:${ports[0]}`, ...common()]);
    expect(put, put.err).toMatchObject({ code: 0, out: expect.stringMatching(/^OK revision \d+\n$/) });
    // The rest in parallel: each CLI run pays for a process start.
    const wrong = path.join(dir, 'wrong');
    fs.writeFileSync(wrong, 'a different secret of 32 bytes..');
    const [get, absent, status, refused] = await Promise.all([
      tessera(['get', 'greeting', '--endpoints', `${HOST}:${ports[2]}`, ...common()]),
      tessera(['get', 'absent', '--endpoints', endpoints(), ...common()]),
      tessera(['status', '--endpoints', endpoints(), ...common()]),
      tessera(['get', 'greeting', '--endpoints', endpoints(), '--secret-file', wrong, '--cluster-id', 'proc-test']),
    ]);
    expect(get).toMatchObject({ code: 0, out: 'hello over tcp\n' });
    expect(absent).toMatchObject({ code: 1, err: expect.stringContaining('not found') });
    // A wrong secret is refused with a clear message.
    expect(refused).toMatchObject({ code: 1, err: expect.stringContaining('AUTH_FAILED') });
    expect(status.code, status.err).toBe(0);
    const lines = status.out.trim().split('\n');
    expect(lines[0]).toMatch(/^cluster proc-test {2}members 1,2,3 {2}leader [123] {2}term \d+$/);
    expect(lines[1]).toMatch(/^node +address +role +term +commit +applied +lag +match$/);
    expect(lines.slice(2).filter((l) => /^\d +127\.0\.0\.1:\d+ +(leader|follower) +\d+ +\d+ +\d+/.test(l))).toHaveLength(3);
    expect(lines.slice(2).filter((l) => / leader /.test(l))).toHaveLength(1);
  });

  it('SIGTERM shuts every node down gracefully (exit 0, JSON logs), and a restart reads the data back', async () => {
    for (const c of children.values()) c.proc.kill('SIGTERM');
    for (const c of children.values()) {
      expect(await c.exited).toEqual({ code: 0, signal: null });
      const logs = c.stderr.filter((l) => l.length > 0).map((l) => JSON.parse(l) as { time: string; level: string; msg: string });
      for (const l of logs) expect(Object.keys(l).slice(0, 3)).toEqual(['time', 'level', 'msg']);
      expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['starting', 'started', 'shutting down', 'stopping', 'stopped']));
    }
    children.clear();
    await Promise.all([1, 2, 3].map((id) => started(serve(id))));
    const get = await tessera(['get', 'greeting', '--endpoints', endpoints(), ...common()]);
    expect(get, get.err).toMatchObject({ code: 0, out: 'hello over tcp\n' });
  });

  it('refuses a short secret before starting', async () => {
    const short = path.join(dir, 'short');
    fs.writeFileSync(short, '  tooshort \n');
    const r = await tessera(['serve', '--id', '9', '--listen', `${HOST}:0`, '--dir', path.join(dir, 'n9'), '--secret-file', short]);
    expect(r).toMatchObject({ code: 2, err: expect.stringContaining('has 8 bytes (after trimming whitespace); at least 16 are required') });
  });
});
