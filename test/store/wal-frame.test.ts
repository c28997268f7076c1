import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../src/errors.ts';
import { EntryType } from '../../src/raft/types.ts';
import { FRAME_HEADER_BYTES, frameRecord, scanFrames } from '../../src/store/wal-frame.ts';
import { decodeWalRecord, encodeWalRecord, type WalRecord } from '../../src/store/wal-record.ts';
import { utf8 } from '../../src/util/bytes.ts';

const frames = (...payloads: string[]) => payloads.map((p) => frameRecord(utf8(p)));

function corruptionOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isTesseraError(e, 'CORRUPTION')) return e.message;
    throw e;
  }
  throw new Error('expected CORRUPTION');
}

describe('WAL framing', () => {
  it('round-trips payloads, including empty ones', () => {
    const { payloads, tornTail } = scanFrames(frames('a', '', 'hello'));
    expect(payloads.map((p) => Buffer.from(p).toString())).toEqual(['a', '', 'hello']);
    expect(tornTail).toBe(false);
  });

  it('treats a short last record as torn: shorter than a header, or payload short', () => {
    const [a, b] = frames('first', 'second');
    for (const cut of [1, FRAME_HEADER_BYTES - 1, FRAME_HEADER_BYTES, b!.length - 1]) {
      const { payloads, tornTail } = scanFrames([a!, b!.subarray(0, cut)]);
      expect(tornTail).toBe(true);
      expect(payloads).toHaveLength(1);
    }
  });

  it('treats a short record that is not the last as corruption', () => {
    const [a, b, c] = frames('first', 'second', 'third');
    expect(corruptionOf(() => scanFrames([a!, b!.subarray(0, 5), c!]))).toMatch(/WAL record 1: .*shorter than its header/);
    expect(corruptionOf(() => scanFrames([a!, b!.subarray(0, b!.length - 1), c!]))).toMatch(/WAL record 1: payload short/);
  });

  it('detects every single-bit flip in a complete record, wherever it is', () => {
    const [a, b] = frames('first', 'second record');
    for (const victim of [0, 1]) {
      const target = victim === 0 ? a! : b!;
      for (let bit = 0; bit < target.length * 8; bit++) {
        const copy = target.slice();
        copy[bit >>> 3] = copy[bit >>> 3]! ^ (1 << (bit & 7));
        const recs = victim === 0 ? [copy, b!] : [a!, copy];
        expect(corruptionOf(() => scanFrames(recs))).toContain(`WAL record ${victim}:`);
      }
    }
  });

  it('names a header mismatch and a payload mismatch apart', () => {
    const [a] = frames('x');
    const header = a!.slice();
    header[0] = header[0]! ^ 1;
    expect(corruptionOf(() => scanFrames([header]))).toMatch(/header checksum/);
    const payload = a!.slice();
    payload[FRAME_HEADER_BYTES] = payload[FRAME_HEADER_BYTES]! ^ 1;
    expect(corruptionOf(() => scanFrames([payload]))).toMatch(/payload checksum/);
  });
});

describe('WAL records', () => {
  const cases: WalRecord[] = [
    {
      kind: 'entries',
      entries: [
        { index: 7, term: 2, type: EntryType.Empty, data: new Uint8Array(0) },
        { index: 8, term: 3, type: EntryType.Normal, data: utf8('x') },
      ],
    },
    { kind: 'hardState', hardState: { term: 2 ** 40, vote: 3, commit: 9 } },
    { kind: 'snapshot', snapshot: { meta: { index: 5, term: 1, conf: { voters: [1, 2], learners: [] } }, data: utf8('img') } },
  ];

  it('round-trips each kind', () => {
    for (const rec of cases) expect(decodeWalRecord(encodeWalRecord(rec), 0)).toEqual(rec);
  });

  it('reports an unparsable payload as CORRUPTION naming the record', () => {
    expect(corruptionOf(() => decodeWalRecord(Uint8Array.of(99), 4))).toMatch(/WAL record 4: unknown record kind/);
    const truncated = encodeWalRecord(cases[0]!).subarray(0, 5);
    expect(corruptionOf(() => decodeWalRecord(truncated, 2))).toMatch(/WAL record 2/);
  });
});
