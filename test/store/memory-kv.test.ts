import { describe, expect, it } from 'vitest';
import { MemoryKvStateMachine } from '../../src/store/memory-kv.ts';
import { utf8 } from '../../src/util/bytes.ts';
import { decodeKvSnapshot } from '../../src/store/kv-snapshot.ts';
import { b, entriesOf, put } from './kv-fixtures.ts';
import { describeStateMachineConformance } from './state-machine-conformance.ts';

describeStateMachineConformance('MemoryKvStateMachine', () => ({ sm: new MemoryKvStateMachine() }));

describe('MemoryKvStateMachine', () => {
  it('lists keys in byte order, not insertion or UTF-16 order', () => {
    const sm = new MemoryKvStateMachine();
    const keys = [Uint8Array.of(0xff), Uint8Array.of(0x01, 0x00), Uint8Array.of(0x01), utf8('é'), utf8('z')];
    sm.apply(entriesOf(1, 1, keys.map((key) => ({ op: 'put' as const, key, value: b('v') }))));
    expect(sm.keys()).toEqual([Uint8Array.of(0x01), Uint8Array.of(0x01, 0x00), utf8('z'), utf8('é'), Uint8Array.of(0xff)]);
    expect(sm.keyCount()).toBe(5);
  });

  it('writes the snapshot in key order, whatever the insertion order', () => {
    const sm = new MemoryKvStateMachine();
    sm.apply(entriesOf(1, 1, [put('b', '0'), put('a', '1', { client: 'z', seq: 1 }), put('c', '2', { client: 'y', seq: 1 })]));
    const image = decodeKvSnapshot(sm.snapshot());
    expect(image.records.map((r) => Buffer.from(r.key).toString())).toEqual(['a', 'b', 'c']);
    expect(image.sessions.map((s) => s.client)).toEqual(['y', 'z']);
    expect(image.appliedIndex).toBe(3);
  });
});
