/** TLS settings of the command line: all three files or none, read and checked; in `serve`'s flags and config file alike. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/cli/serve-config.ts';
import { readTlsFiles, tlsPaths } from '../../src/cli/tls-files.ts';
import { TesseraError } from '../../src/errors.ts';
import { ROGUE_NODE_KEY, TRUSTED_CA_CERT, TRUSTED_NODE_CERT, TRUSTED_NODE_KEY } from '../net/tcp/tls-fixtures.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-tls-files-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function pemFile(name: string, pem: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, pem);
  return f;
}

const cert = pemFile('node.crt', TRUSTED_NODE_CERT);
const key = pemFile('node.key', TRUSTED_NODE_KEY);
const ca = pemFile('ca.crt', TRUSTED_CA_CERT);

/** The thrown error, for checking its type and code as well as its message. */
function thrown(f: () => unknown): TesseraError {
  try {
    f();
  } catch (e) {
    if (e instanceof TesseraError) return e;
    throw e;
  }
  throw new Error('expected a TesseraError');
}

describe('TLS files', () => {
  it('takes all three paths or none', () => {
    expect(tlsPaths({})).toBeUndefined();
    expect(tlsPaths({ cert: '', key: undefined })).toBeUndefined();
    expect(tlsPaths({ cert: 'c', key: 'k', ca: 'a' })).toEqual({ cert: 'c', key: 'k', ca: 'a' });
    const partial = thrown(() => tlsPaths({ cert: 'c' }));
    expect(partial.code).toBe('INVALID_ARGUMENT');
    expect(partial.message).toMatch(/--tls-key and --tls-ca missing/);
    expect(thrown(() => tlsPaths({ cert: 'c', key: 'k' })).message).toMatch(/--tls-ca missing/);
    expect(thrown(() => tlsPaths({ cert: 'c', key: 'k', ca: 3 })).message).toMatch(/--tls-ca must be a file path/);
  });

  it('reads and checks the files: unreadable, or a key of another certificate, is INVALID_ARGUMENT', () => {
    const tls = readTlsFiles({ cert, key, ca });
    expect(Buffer.from(tls.cert as Uint8Array).toString()).toBe(TRUSTED_NODE_CERT);
    const missing = thrown(() => readTlsFiles({ cert, key: path.join(dir, 'absent.key'), ca }));
    expect(missing.code).toBe('INVALID_ARGUMENT');
    expect(missing.message).toMatch(/cannot read the TLS key .*absent\.key/);
    const wrongKey = pemFile('rogue.key', ROGUE_NODE_KEY);
    expect(thrown(() => readTlsFiles({ cert, key: wrongKey, ca })).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => readTlsFiles({ cert, key, ca: key })).message).toMatch(/the CA is not a PEM certificate/);
  });

  it('serve: from flags or the config file (paths relative to it), one rule for both', () => {
    const ok = { id: '1', listen: 'a:1', dir: 'd', secretFile: 's' };
    expect(resolveServeConfig(ok).tls).toBeUndefined();
    expect(resolveServeConfig({ ...ok, tlsCert: cert, tlsKey: key, tlsCa: ca }).tls).toEqual({ cert, key, ca });
    const file = path.join(dir, 'n1.json');
    fs.writeFileSync(file, JSON.stringify({ ...ok, tlsCert: 'node.crt', tlsKey: 'node.key', tlsCa: 'ca.crt' }));
    expect(resolveServeConfig({ config: file }).tls).toEqual({ cert, key, ca });
    // A flag overrides one field of the file; the three still go together.
    expect(resolveServeConfig({ config: file, tlsCa: '/elsewhere/ca.crt' }).tls).toEqual({ cert, key, ca: '/elsewhere/ca.crt' });
    fs.writeFileSync(file, JSON.stringify({ ...ok, tlsCert: 'node.crt' }));
    const partial = thrown(() => resolveServeConfig({ config: file }));
    expect(partial.code).toBe('INVALID_ARGUMENT');
    expect(partial.message).toMatch(/--tls-key \("tlsKey"\) and --tls-ca \("tlsCa"\) missing/);
    expect(thrown(() => resolveServeConfig({ ...ok, tlsKey: key })).message).toMatch(/--tls-cert \("tlsCert"\) and --tls-ca \("tlsCa"\) missing/);
  });
});
