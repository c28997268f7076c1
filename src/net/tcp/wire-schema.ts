/**
 * Checks on values decoded from MessagePack sent by a peer. MessagePack tells us only that the
 * bytes are well formed; these say that a field has the exact type the code behind it relies
 * on, so a malformed message fails here with PROTOCOL_ERROR instead of deep inside Raft.
 */
import { TesseraError } from '../../errors.ts';
import { asUint8Array } from '../../util/bytes.ts';

export function protocolError(what: string): TesseraError {
  return new TesseraError('PROTOCOL_ERROR', what);
}

export function tuple(value: unknown, length: number, what: string): readonly unknown[] {
  if (!Array.isArray(value) || value.length !== length) throw protocolError(`${what}: expected an array of ${length}`);
  return value;
}

export function list(value: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(value)) throw protocolError(`${what}: expected an array`);
  return value;
}

/** A non-negative safe integer (terms, indexes, sequence numbers). */
export function uint(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw protocolError(`${what}: expected a non-negative integer`);
  return value === 0 ? 0 : value; // folds -0
}

/** A node id: a positive safe integer (0 means "none" and never names a sender or receiver). */
export function nodeId(value: unknown, what: string): number {
  const id = uint(value, what);
  if (id === 0) throw protocolError(`${what}: node id 0`);
  return id;
}

export function bool(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') throw protocolError(`${what}: expected a boolean`);
  return value;
}

export function str(value: unknown, what: string): string {
  if (typeof value !== 'string') throw protocolError(`${what}: expected a string`);
  return value;
}

/**
 * Bytes, as a plain Uint8Array: msgpackr hands out Buffers (views into the frame), and code
 * further in compares constructors or relies on Uint8Array semantics (Buffer#slice shares).
 */
export function bytes(value: unknown, what: string, exactLength?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw protocolError(`${what}: expected bytes`);
  if (exactLength !== undefined && value.byteLength !== exactLength) throw protocolError(`${what}: expected ${exactLength} bytes`);
  return asUint8Array(value);
}
