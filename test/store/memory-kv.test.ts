import { describe, expect, it } from 'vitest';
import { MemoryKvStateMachine } from '../../src/store/memory-kv.ts';
import { b, entriesOf, put } from './kv-fixtures.ts';
import { readAll } from './sm-harness.ts';
import { describeStateMachineConformance } from './state-machine-conformance.ts';

describeStateMachineConformance('MemoryKvStateMachine', (limits) => ({ sm: new MemoryKvStateMachine(limits) }));

describe('MemoryKvStateMachine', () => {
  it('copies on write only while a snapshot view is open', () => {
    const sm = new MemoryKvStateMachine();
    sm.apply(entriesOf(1, 1, [put('a', '1')]));
    const reader = sm.openSnapshot();
    const expected = sm.snapshot();
    sm.apply(entriesOf(2, 1, [put('a', '2'), put('b', '3')]));
    expect(readAll(reader, 3)).toEqual(expected);
    sm.apply(entriesOf(4, 1, [put('a', '4')]));
    expect(sm.get(b('a'))?.value).toEqual(b('4'));
  });
});
