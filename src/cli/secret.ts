/**
 * The cluster secret from a file (`--secret-file`): the file's bytes with surrounding ASCII
 * whitespace trimmed (so `echo secret > file` works), at least MIN_SECRET_BYTES of them.
 */
import fs from 'node:fs';
import { TesseraError } from '../errors.ts';
import { MIN_SECRET_BYTES } from '../net/tcp/handshake.ts';

const WHITESPACE = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]);

export function trimAsciiWhitespace(b: Uint8Array): Uint8Array {
  let start = 0;
  let end = b.length;
  while (start < end && WHITESPACE.has(b[start]!)) start++;
  while (end > start && WHITESPACE.has(b[end - 1]!)) end--;
  return b.slice(start, end);
}

/** Throws INVALID_ARGUMENT (unreadable file, too short a secret) with a message fit for a command line. */
export function readSecretFile(file: string): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(fs.readFileSync(file));
  } catch (e) {
    throw new TesseraError('INVALID_ARGUMENT', `cannot read the secret file ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const secret = trimAsciiWhitespace(raw);
  if (secret.byteLength < MIN_SECRET_BYTES) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `the secret in ${file} has ${secret.byteLength} bytes (after trimming whitespace); at least ${MIN_SECRET_BYTES} are required (e.g. openssl rand -hex 32 > ${file})`,
    );
  }
  return secret;
}
