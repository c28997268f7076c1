/** Temporary directories for the LMDB tests, removed (and their stores closed) after each test. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];

/** A fresh empty directory under os.tmpdir(), deleted after the current test. */
export function tempDir(prefix = 'tessera-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Registers something to close after the current test (before its directory is deleted). */
export function closeLater<T extends { close(): Promise<void> }>(x: T): T {
  closers.push(() => x.close());
  return x;
}

afterEach(async () => {
  const pending = closers.splice(0);
  for (const close of pending.reverse()) await close().catch(() => {});
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
