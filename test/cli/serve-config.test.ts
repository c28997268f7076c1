/** `tessera serve` settings from flags and a config file; the secret file; the status table. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSecretFile } from '../../src/cli/secret.ts';
import { resolveServeConfig } from '../../src/cli/serve-config.ts';
import { formatStatus, summarize } from '../../src/cli/status-table.ts';
import type { NodeStatusResult } from '../../src/client/remote-client.ts';
import { TesseraError } from '../../src/errors.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-config-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('serve config', () => {
  it('reads the flags of the issue', () => {
    const c = resolveServeConfig({ id: '1', listen: '127.0.0.1:7001', peers: '2=127.0.0.1:7002,3=127.0.0.1:7003', dir: './n1', secretFile: 's' });
    expect(c).toMatchObject({ id: 1, listen: { host: '127.0.0.1', port: 7001 }, dir: './n1', secretFile: 's', clusterId: 'tessera', logLevel: 'info' });
    expect([...c.peers]).toEqual([
      [2, { host: '127.0.0.1', port: 7002 }],
      [3, { host: '127.0.0.1', port: 7003 }],
    ]);
  });

  it('reads a config file with the same fields; flags win; paths are the file’s', () => {
    const file = path.join(dir, 'n1.json');
    fs.writeFileSync(file, JSON.stringify({ id: 1, listen: '0.0.0.0:7001', peers: { 2: 'b:7002' }, dir: 'data', secretFile: 's', clusterId: 'prod', tickMs: 50 }));
    const c = resolveServeConfig({ config: file, listen: '127.0.0.1:9000' });
    expect(c).toMatchObject({ id: 1, listen: { port: 9000 }, dir: path.join(dir, 'data'), secretFile: path.join(dir, 's'), clusterId: 'prod', tickMs: 50 });
    expect(c.peers.get(2)).toEqual({ host: 'b', port: 7002 });
    fs.writeFileSync(file, JSON.stringify({ id: 1, listen: 'a:1', dir: 'd', secretFile: 's', peer: 'typo' }));
    expect(() => resolveServeConfig({ config: file })).toThrow(/unknown field "peer"/);
  });

  it('says what is missing or wrong', () => {
    const ok = { id: '1', listen: 'a:1', dir: 'd', secretFile: 's' };
    expect(() => resolveServeConfig({ ...ok, id: undefined })).toThrow(/--id is required/);
    expect(() => resolveServeConfig({ ...ok, secretFile: undefined })).toThrow(/--secret-file is required/);
    expect(() => resolveServeConfig({ ...ok, id: '0' })).toThrow(/positive integer/);
    expect(() => resolveServeConfig({ ...ok, peers: '127.0.0.1:7002' })).toThrow(/needs an id/);
    expect(() => resolveServeConfig({ ...ok, peers: '2=a:1,2=b:2' })).toThrow(/listed twice/);
    expect(() => resolveServeConfig({ ...ok, logLevel: 'loud' })).toThrow(/--log-level/);
    expect(() => resolveServeConfig({ ...ok, leaseDrift: '0.5' })).toThrow(/--lease-drift/);
    expect(() => resolveServeConfig({ ...ok, leaseDrift: 'soon' })).toThrow(/--lease-drift/);
  });

  it('turns lease reads on only when a drift bound is given', () => {
    const ok = { id: '1', listen: 'a:1', dir: 'd', secretFile: 's' };
    expect(resolveServeConfig(ok).leaseDrift).toBeUndefined();
    expect(resolveServeConfig({ ...ok, leaseDrift: '0.05' }).leaseDrift).toBe(0.05);
  });
});

describe('secret file', () => {
  it('is the file’s bytes, trimmed, at least 16 of them', () => {
    const f = path.join(dir, 'secret');
    fs.writeFileSync(f, '\n  0123456789abcdef0123 \r\n');
    expect(new TextDecoder().decode(readSecretFile(f))).toBe('0123456789abcdef0123');
    fs.writeFileSync(f, '0123456789abcde\n');
    expect(() => readSecretFile(f)).toThrow(/has 15 bytes .* at least 16 are required/);
    expect(() => readSecretFile(path.join(dir, 'missing'))).toThrow(/cannot read the secret file/);
  });
});

describe('status table', () => {
  const report = (id: number, role: string, applied: number) => ({
    id,
    clusterId: 'c',
    role,
    term: 4,
    leader: 2,
    commit: 100,
    applied,
    lastIndex: 100,
    members: [1, 2, 3].map((m) => ({ id: m, address: { host: 'h', port: 7000 + m } })),
    progress: role === 'leader' ? [{ id: 1, match: 99, next: 100, state: 'replicate' }, { id: 3, match: 60, next: 61, state: 'probe' }] : [],
  });
  const result = (id: number, status: ReturnType<typeof report> | null): NodeStatusResult => ({
    id,
    address: { host: 'h', port: 7000 + id },
    status,
    error: status ? null : new TesseraError('CLOSED', 'node 3 is unreachable'),
  });

  it('shows the leader, term, and each follower’s lag behind the leader’s applied index', () => {
    const s = summarize([result(1, report(1, 'follower', 97)), result(2, report(2, 'leader', 100)), result(3, null)]);
    expect(s).toMatchObject({ leader: 2, term: 4, members: [1, 2, 3] });
    expect(s.nodes.map((n) => [n.id, n.role, n.lag, n.match])).toEqual([
      [1, 'follower', 3, 99],
      [2, 'leader', null, null],
      [3, 'unreachable', null, 60],
    ]);
    const text = formatStatus(s);
    expect(text.split('\n')[0]).toBe('cluster c  members 1,2,3  leader 2  term 4');
    expect(text).toContain('node 3: CLOSED: node 3 is unreachable');
  });
});
