/** Shared helpers for the tensor tests: temp directories and hand-built safetensors bytes. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { isTesseraError, type TesseraErrorCode } from '../../src/errors.ts';

const dirs: string[] = [];

/** A fresh empty directory, deleted after the current test. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-tensor-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** u64 little-endian. */
export function u64le(n: number | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A safetensors file: length prefix, the header (raw JSON text or bytes) padded with `pad` spaces, then data. */
export function safetensorsBytes(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), pad = 0): Uint8Array {
  const json = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const padded = concat(json, new Uint8Array(pad).fill(0x20));
  return concat(u64le(padded.length), padded, data);
}

/** Writes bytes to a new file in a temp directory and returns its path. */
export function writeTemp(bytes: Uint8Array, name = 'model.safetensors'): string {
  const file = path.join(tempDir(), name);
  fs.writeFileSync(file, bytes);
  return file;
}

/** Awaits `p` and checks it failed with a TesseraError of `code` whose message matches `pattern`. */
export async function expectError(p: Promise<unknown>, code: TesseraErrorCode, pattern?: RegExp): Promise<void> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  expect(isTesseraError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
  if (pattern) expect((error as Error).message).toMatch(pattern);
}

/** Same as expectError for synchronous code. */
export function expectErrorSync(f: () => unknown, code: TesseraErrorCode, pattern?: RegExp): void {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(isTesseraError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
  if (pattern) expect((error as Error).message).toMatch(pattern);
}

/** Deterministic filler bytes (no Math.random in tests). */
export function patternBytes(length: number, salt = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + (i >>> 8) * 7 + salt) & 0xff;
  return out;
}

/** Deterministic bytes from an LCG seeded with `seed`, so tests need no randomness. */
export function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
