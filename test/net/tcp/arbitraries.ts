/** fast-check generators and byte mutations shared by the TCP transport's tests. */
import fc from 'fast-check';
import { EntryType, message, type Message, type MessageType, type SnapshotMeta } from '../../../src/raft/types.ts';
import { WIRE_MESSAGE_TYPES } from '../../../src/net/tcp/message-codec.ts';

const uint = fc.oneof(fc.nat(1000), fc.constant(0), fc.constant(Number.MAX_SAFE_INTEGER), fc.nat());
const id = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const bytes = fc.uint8Array({ maxLength: 64 });

const meta: fc.Arbitrary<SnapshotMeta> = fc.record({
  index: uint,
  term: uint,
  conf: fc.record({ voters: fc.array(id, { maxLength: 5 }), learners: fc.array(id, { maxLength: 3 }) }),
});

export const wireMessage: fc.Arbitrary<Message> = fc
  .record({
    type: fc.constantFrom(...([...WIRE_MESSAGE_TYPES] as MessageType[])),
    from: id,
    to: id,
    term: uint,
    logTerm: uint,
    index: uint,
    entries: fc.array(fc.record({ term: uint, index: uint, type: fc.constantFrom(EntryType.Normal, EntryType.Empty), data: bytes }), { maxLength: 4 }),
    commit: uint,
    reject: fc.boolean(),
    rejectHint: uint,
    snapshot: fc.option(fc.record({ meta, data: bytes }), { nil: null }),
    context: fc.string({ maxLength: 20 }),
    chunk: fc.option(fc.record({ transfer: fc.string({ maxLength: 12 }), seq: uint, last: fc.boolean(), meta, data: bytes }), { nil: null }),
  })
  .map((fields) => message(fields));

export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly mask: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0xc1, 0xdd, 0xdf, 0xc6, 0xcf, 0xd4, 0xc7) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
);

export function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = new Uint8Array(input);
  for (const m of mutations) {
    const at = b.byteLength === 0 ? 0 : m.at % (b.byteLength + (m.kind === 'insert' ? 1 : 0));
    switch (m.kind) {
      case 'flip':
        if (b.byteLength > 0) b[at] = b[at]! ^ m.mask;
        break;
      case 'set':
        if (b.byteLength > 0) b[at] = m.value;
        break;
      case 'truncate':
        b = b.slice(0, at);
        break;
      case 'insert': {
        const out = new Uint8Array(b.byteLength + m.bytes.byteLength);
        out.set(b.subarray(0, at));
        out.set(m.bytes, at);
        out.set(b.subarray(at), at + m.bytes.byteLength);
        b = out;
        break;
      }
      case 'delete': {
        const end = Math.min(b.byteLength, at + m.length);
        const out = new Uint8Array(b.byteLength - (end - at));
        out.set(b.subarray(0, at));
        out.set(b.subarray(end), at);
        b = out;
        break;
      }
    }
  }
  return b;
}

/** Cuts `input` into chunks at the given (sorted, deduplicated) positions. */
export function split(input: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (input.byteLength === 0 ? 0 : c % (input.byteLength + 1))))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    out.push(input.subarray(from, p));
    from = p;
  }
  out.push(input.subarray(from));
  return out;
}
