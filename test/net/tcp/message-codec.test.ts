import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../../src/errors.ts';
import { FrameDecoder } from '../../../src/net/tcp/frame.ts';
import { WIRE_MESSAGE_TYPES, decodeMessage, encodeMessage, encodeMessageFrame } from '../../../src/net/tcp/message-codec.ts';
import { MAX_ENTRY_BYTES, MAX_MESSAGE_BYTES } from '../../../src/limits.ts';
import { EntryType, message, type Message } from '../../../src/raft/types.ts';
import { wireMessage } from './arbitraries.ts';

const packr = new Packr({ useRecords: false });

function protocolError(payload: Uint8Array): string {
  try {
    decodeMessage(payload);
  } catch (e) {
    if (isTesseraError(e, 'PROTOCOL_ERROR')) return e.message;
    throw e;
  }
  throw new Error('decoded a message that should have been rejected');
}

/** Every Uint8Array in a decoded message must be a plain Uint8Array, never a Buffer. */
function byteFields(m: Message): Uint8Array[] {
  return [...m.entries.map((e) => e.data), ...(m.snapshot ? [m.snapshot.data] : []), ...(m.chunk ? [m.chunk.data] : [])];
}

const full = (): Message =>
  message({
    type: 'app',
    from: 1,
    to: 2,
    term: 7,
    logTerm: 6,
    index: 2 ** 40,
    entries: [
      { term: 6, index: 2 ** 40 + 1, type: EntryType.Normal, data: new Uint8Array([1, 2, 3]) },
      { term: 7, index: 2 ** 40 + 2, type: EntryType.Empty, data: new Uint8Array(0) },
    ],
    commit: Number.MAX_SAFE_INTEGER,
    reject: true,
    rejectHint: 3,
    snapshot: { meta: { index: 5, term: 2, conf: { voters: [1, 2, 3], learners: [4] } }, data: new Uint8Array([9]) },
    context: 'read-ctx-é',
    chunk: { transfer: 't-1', seq: 3, last: true, meta: { index: 5, term: 2, conf: { voters: [1], learners: [] } }, data: Buffer.from([4, 5]) },
  });

describe('message codec', () => {
  it('round-trips every field, with bytes coming back as plain Uint8Array (not Buffer)', () => {
    const m = full();
    const back = decodeMessage(encodeMessage(m));
    for (const b of byteFields(back)) expect(b.constructor).toBe(Uint8Array);
    expect(back).toEqual({ ...m, chunk: { ...m.chunk!, data: new Uint8Array([4, 5]) } });
  });

  it('round-trips every wire message type and refuses to encode the local ones', () => {
    for (const type of WIRE_MESSAGE_TYPES) expect(decodeMessage(encodeMessage(message({ type, from: 3, to: 1 }))).type).toBe(type);
    for (const type of ['snapStatus', 'unreachable'] as const) {
      expect(() => encodeMessage(message({ type, from: 1, to: 2 }))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('round-trips arbitrary messages (property)', () => {
    fc.assert(
      fc.property(wireMessage, (m) => {
        const back = decodeMessage(encodeMessage(m));
        expect(back).toEqual(m);
        for (const b of byteFields(back)) expect(b.constructor).toBe(Uint8Array);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('carries a message at the 8 MiB limit through a frame', () => {
    const data = new Uint8Array(MAX_ENTRY_BYTES).fill(7);
    const m = message({ type: 'app', from: 1, to: 2, entries: [0, 1].map((i) => ({ term: 1, index: i + 1, type: EntryType.Normal, data })) });
    const frame = encodeMessageFrame(m);
    expect(frame.byteLength).toBeGreaterThan(MAX_MESSAGE_BYTES);
    const d = new FrameDecoder();
    d.push(frame);
    const back = decodeMessage(d.next()!);
    expect(back.entries.map((e) => e.data.byteLength)).toEqual([MAX_ENTRY_BYTES, MAX_ENTRY_BYTES]);
    expect(back.entries[1]!.data[MAX_ENTRY_BYTES - 1]).toBe(7);
  });

  it('refuses to frame a message beyond the frame limit', () => {
    const m = message({ type: 'snapChunk', from: 1, to: 2, chunk: { transfer: 't', seq: 0, last: false, meta: { index: 1, term: 1, conf: { voters: [1], learners: [] } }, data: new Uint8Array(MAX_MESSAGE_BYTES + 128 * 1024) } });
    expect(() => encodeMessageFrame(m)).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
  });

  it('rejects well-formed MessagePack that is not a message, naming the field', () => {
    const wire = (m: Message): unknown[] => packr.unpack(encodeMessage(m)) as unknown[];
    const base = wire(full());
    const withField = (i: number, v: unknown) => packr.pack(base.map((x, j) => (j === i ? v : x)));
    expect(protocolError(packr.pack({ type: 'app' }))).toMatch(/expected an array of 13/);
    expect(protocolError(packr.pack([...base, 1]))).toMatch(/expected an array of 13/);
    expect(protocolError(packr.pack(null))).toMatch(/message/);
    expect(protocolError(withField(0, 'snapStatus'))).toMatch(/not a wire message type/);
    expect(protocolError(withField(0, 3))).toMatch(/message.type/);
    expect(protocolError(withField(1, 0))).toMatch(/message.from: node id 0/);
    expect(protocolError(withField(2, -1))).toMatch(/message.to/);
    expect(protocolError(withField(3, 1.5))).toMatch(/message.term/);
    expect(protocolError(withField(3, 2 ** 53))).toMatch(/message.term/);
    expect(protocolError(withField(3, 2n ** 64n - 1n))).toMatch(/message.term/);
    expect(protocolError(withField(3, '7'))).toMatch(/message.term/);
    expect(protocolError(withField(6, [[1, 1, 7, new Uint8Array()]]))).toMatch(/entry.type/);
    expect(protocolError(withField(6, [[1, 1, 0, 'not bytes']]))).toMatch(/entry.data/);
    expect(protocolError(withField(6, [[1, 1, 0]]))).toMatch(/entry/);
    expect(protocolError(withField(6, { 0: 1 }))).toMatch(/message.entries/);
    expect(protocolError(withField(8, 1))).toMatch(/message.reject/);
    expect(protocolError(withField(10, [[1, 1, [0], []], new Uint8Array()]))).toMatch(/snapshot.meta.voters/);
    expect(protocolError(withField(11, null))).toMatch(/message.context/);
    expect(protocolError(withField(12, ['t', 0, false, [1, 1, [], []], null]))).toMatch(/chunk.data/);
  });

  it('rejects bytes that are not MessagePack, trailing bytes, unknown extensions and deep nesting', () => {
    expect(protocolError(new Uint8Array(0))).toMatch(/not MessagePack/);
    expect(protocolError(new Uint8Array([0xc1]))).toMatch(/PROTOCOL_ERROR/);
    expect(protocolError(new Uint8Array([...encodeMessage(full()), 0]))).toMatch(/not MessagePack/);
    expect(protocolError(new Uint8Array([0xd4, 0x05, 0x01]))).toMatch(/not MessagePack/);
    expect(protocolError(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]))).toMatch(/not MessagePack/);
    expect(protocolError(new Uint8Array([0xc6, 0xff, 0xff, 0xff, 0xff, 1]))).toMatch(/not MessagePack/);
    expect(protocolError(new Uint8Array(200_000).fill(0x91))).toMatch(/PROTOCOL_ERROR/);
  });
});
