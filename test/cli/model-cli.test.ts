/** `tessera model` end to end: import (TF.js, safetensors), export, ls, info, rm, and typed failures. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/tessera.mjs');
const MANIFEST = path.resolve(ROOT, '../shared/fixtures/tfjs/face_landmark_68_tiny_model-weights_manifest.json');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function tessera(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'model', ...args, '--dir', path.join(dir, 'data')], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

it('imports, exports, lists, inspects and deletes models', () => {
  expect(tessera('import', 'face', MANIFEST)).toMatchObject({ code: 0, out: expect.stringContaining('face version 1: 308896 bytes in 28 chunks') });
  const file = path.join(dir, 'face.safetensors');
  expect(tessera('export', 'face', file).code).toBe(0);
  expect(fs.statSync(file).size).toBeGreaterThan(308896);
  expect(tessera('import', 'copy', file)).toMatchObject({ code: 0, out: expect.stringContaining('(0 sent') });
  expect(tessera('ls').out).toBe('copy\thead 1\nface\thead 1\n');
  expect(JSON.parse(tessera('info', 'copy').out)).toMatchObject({ model: 'copy', head: 1, versions: [{ version: 1, tensors: 28 }] });
  expect(tessera('rm', 'face', '--version', '1')).toMatchObject({ code: 0, out: expect.stringContaining('head is now none') });
  expect(tessera('rm', 'face', '--version', '1')).toMatchObject({ code: 1, err: expect.stringContaining('NOT_FOUND') });
  fs.writeFileSync(path.join(dir, 'bad.safetensors'), 'garbage!garbage!');
  expect(tessera('import', 'bad', path.join(dir, 'bad.safetensors'))).toMatchObject({ code: 1, err: expect.stringContaining('INVALID_FORMAT') });
  expect(tessera('frobnicate').code).toBe(2);
}, 120_000);

it('bad usage is one line and exit 2, a failure one line and exit 1: never a stack trace', () => {
  const cases: [string[], number, RegExp][] = [
    [['ls', '--bogus'], 2, /Unknown option '--bogus'/],
    [['ls', '--nodes', 'abc'], 2, /nodes must be an integer/],
    [['info'], 2, /missing <model>/],
    [['info', 'a', 'b'], 2, /unexpected argument "b"/],
    [['rm', 'a', '--version', '0'], 2, /--version must be a positive integer/],
    [['rm', 'a'], 2, /missing --version/],
    [['import', 'x', path.join(dir, 'missing.safetensors')], 1, /ENOENT/],
    [['ls', '--nodes', '5'], 1, /IDENTITY_MISMATCH/],
  ];
  for (const [args, code, message] of cases) {
    const r = tessera(...args);
    expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(code);
    expect(r.err.split('\n')[0]).toMatch(message);
    expect(r.err).not.toMatch(/^\s+at /m);
  }
}, 120_000);

it('tessera put/get refuse extra arguments and unknown options before connecting (exit 2)', () => {
  const kv = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args, '--endpoints', '127.0.0.1:1', '--secret-file', path.join(dir, 'none')], { encoding: 'utf8', timeout: 30_000 });
  const extra = kv('put', 'k', 'hello', 'world');
  expect(extra.status).toBe(2);
  expect(extra.stderr).toMatch(/unexpected argument "world" \(quote a VALUE that has spaces\)/);
  const unknown = kv('get', 'k', '--bogus');
  expect(unknown.status).toBe(2);
  expect(unknown.stderr).not.toMatch(/^\s+at /m);
  expect(kv('put', 'k', '-5').status).toBe(2);
});
