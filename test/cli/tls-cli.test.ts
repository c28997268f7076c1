/**
 * `tessera serve` with TLS from a config file, as a real one-node process, and the client
 * commands' `--tls-ca/--tls-cert/--tls-key`: a TLS put and get succeed; the same command
 * without TLS fails (exit 1, AUTH_FAILED) and the server goes on; a partial TLS setting is bad
 * usage (exit 2) for the client and for `serve`, as is an unreadable certificate.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRUSTED_CA_CERT, TRUSTED_NODE_CERT, TRUSTED_NODE_KEY } from '../net/tcp/tls-fixtures.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/tessera.mjs');
const HOST = '127.0.0.1';
/** Generous: each CLI run starts a process that compiles TypeScript on the fly, on a shared machine. */
const START_TIMEOUT_MS = 30_000;
const RUN_TIMEOUT_MS = 30_000;

function tessera(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_TIMEOUT_MS });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

/** A JSON log line of `serve`; null for anything else on stderr (a Node warning, say). */
function logLine(line: string): { msg: string; fields?: { port?: number } } | null {
  try {
    return JSON.parse(line) as { msg: string; fields?: { port?: number } };
  } catch {
    return null;
  }
}

describe('tessera serve and the client commands over TLS', () => {
  let dir: string;
  let server: ChildProcess | null = null;
  let port = 0;
  const stderr: string[] = [];
  const files = () => ({ cert: path.join(dir, 'tls/node.crt'), key: path.join(dir, 'tls/node.key'), ca: path.join(dir, 'tls/ca.crt'), secret: path.join(dir, 'secret') });
  const tlsFlags = () => ['--tls-ca', files().ca, '--tls-cert', files().cert, '--tls-key', files().key];
  const common = () => ['--endpoints', `${HOST}:${port}`, '--secret-file', files().secret, '--cluster-id', 'tls-cli'];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-tls-cli-'));
    fs.mkdirSync(path.join(dir, 'tls'));
    fs.writeFileSync(files().cert, TRUSTED_NODE_CERT);
    fs.writeFileSync(files().key, TRUSTED_NODE_KEY);
    fs.writeFileSync(files().ca, TRUSTED_CA_CERT);
    fs.writeFileSync(files().secret, 'a tls cli test secret, 32 bytes!\n');
    // Relative paths: the config file's directory is their base.
    const config = { id: 1, listen: `${HOST}:0`, dir: 'n1', secretFile: 'secret', clusterId: 'tls-cli', tickMs: 20, tlsCert: 'tls/node.crt', tlsKey: 'tls/node.key', tlsCa: 'tls/ca.crt' };
    fs.writeFileSync(path.join(dir, 'n1.json'), JSON.stringify(config));
    server = spawn(process.execPath, [BIN, 'serve', '--config', path.join(dir, 'n1.json')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let partial = '';
    server.stderr!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      stderr.push(...lines);
    });
    const end = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const started = stderr.map(logLine).find((l) => l?.msg === 'started');
      if (started?.fields?.port) {
        port = started.fields.port;
        break;
      }
      if (server.exitCode !== null || Date.now() > end) throw new Error(`tessera serve did not start:\n${stderr.join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  afterAll(() => {
    server?.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('put and get with --tls-*; without them the node refuses the client and carries on', async () => {
    const put = await tessera(['put', 'greeting', 'hello over tls', ...common(), ...tlsFlags()]);
    expect(put, put.err).toMatchObject({ code: 0, out: expect.stringMatching(/^OK revision \d+\n$/) });
    const [get, clear] = await Promise.all([tessera(['get', 'greeting', ...common(), ...tlsFlags()]), tessera(['get', 'greeting', ...common()])]);
    expect(get, get.err).toMatchObject({ code: 0, out: 'hello over tls\n' });
    expect(clear).toMatchObject({ code: 1, err: expect.stringContaining('AUTH_FAILED') });
    expect(clear.err).toContain('requires TLS');
    const again = await tessera(['get', 'greeting', ...common(), ...tlsFlags()]);
    expect(again, again.err).toMatchObject({ code: 0, out: 'hello over tls\n' });
    expect(server!.exitCode).toBeNull();
  });

  it('a partial TLS setting or an unreadable file is bad usage (exit 2), for clients and for serve', async () => {
    const f = files();
    const [client, serve, unreadable] = await Promise.all([
      tessera(['get', 'greeting', ...common(), '--tls-ca', f.ca]),
      tessera(['serve', '--id', '2', '--listen', `${HOST}:0`, '--dir', path.join(dir, 'n2'), '--secret-file', f.secret, '--tls-cert', f.cert]),
      tessera(['serve', '--id', '2', '--listen', `${HOST}:0`, '--dir', path.join(dir, 'n2'), '--secret-file', f.secret, '--tls-cert', path.join(dir, 'absent.crt'), '--tls-key', f.key, '--tls-ca', f.ca]),
    ]);
    expect(client).toMatchObject({ code: 2, err: expect.stringContaining('--tls-cert and --tls-key missing') });
    expect(serve).toMatchObject({ code: 2, err: expect.stringContaining('--tls-key ("tlsKey") and --tls-ca ("tlsCa") missing') });
    expect(unreadable).toMatchObject({ code: 2, err: expect.stringContaining('cannot read the TLS certificate') });
    expect(fs.existsSync(path.join(dir, 'n2'))).toBe(false);
  });
});
