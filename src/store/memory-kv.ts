/**
 * The simulator's key-value state machine. Volatile on purpose: a crash loses it, and the
 * runtime rebuilds it from the log store's snapshot plus log replay, which is exactly the path
 * the simulator wants exercised. Each batch is decoded and checked before anything changes, so
 * a rejected batch leaves the state untouched (as the LMDB twin's aborted transaction would).
 */
import { EntryType, type Entry, type SnapshotMeta } from '../raft/types.ts';
import { assert } from '../util/assert.ts';
import { binaryStringToBytes, bytesEqual, bytesToBinaryString } from '../util/bytes.ts';
import { decodeCommand, type KvCommand, type KvRecord, type KvResult } from './kv-command.ts';
import { decodeKvSnapshot, encodeKvSnapshot } from './kv-snapshot.ts';
import type { KvApplyResult, KvStateMachine } from './kv-state-machine.ts';

interface SessionState {
  readonly seq: number;
  readonly result: KvResult;
}

export class MemoryKvStateMachine implements KvStateMachine {
  /** Keyed by the key's binary string, whose default sort is byte order. */
  private data = new Map<string, KvRecord>();
  private sessions = new Map<string, SessionState>();
  private applied = 0;
  private appliedTermValue = 0;

  appliedIndex(): number {
    return this.applied;
  }

  appliedTerm(): number {
    return this.appliedTermValue;
  }

  get(key: Uint8Array): KvRecord | null {
    return this.data.get(bytesToBinaryString(key)) ?? null;
  }

  keyCount(): number {
    return this.data.size;
  }

  /** All keys, in byte order. */
  keys(): Uint8Array[] {
    return [...this.data.keys()].sort().map(binaryStringToBytes);
  }

  apply(entries: readonly Entry[]): KvApplyResult[] {
    let term = this.appliedTermValue;
    const commands = entries.map((e, i): KvCommand | null => {
      const want = this.applied + 1 + i;
      assert(e.index === want, () => `apply: got index ${e.index}, expected ${want} (applied ${this.applied})`);
      assert(e.term >= term, () => `apply: term ${e.term} at ${e.index} is below ${term}`);
      term = e.term;
      // A Normal entry without data is a no-op too (etcd's new leaders append one), not a command.
      return e.type === EntryType.Empty || e.data.length === 0 ? null : decodeCommand(e.data);
    });
    return entries.map((e, i) => {
      const cmd = commands[i]!;
      const result = cmd === null ? null : this.applyCommand(cmd, e.index);
      this.applied = e.index;
      this.appliedTermValue = e.term;
      return result;
    });
  }

  snapshot(): Uint8Array {
    return encodeKvSnapshot({
      appliedIndex: this.applied,
      appliedTerm: this.appliedTermValue,
      records: [...this.data.keys()].sort().map((k) => ({ key: binaryStringToBytes(k), record: this.data.get(k)! })),
      sessions: [...this.sessions.keys()].sort().map((client) => ({ client, ...this.sessions.get(client)! })),
    });
  }

  restore(meta: SnapshotMeta, data: Uint8Array): void {
    const image = decodeKvSnapshot(data);
    assert(
      image.appliedIndex === meta.index && image.appliedTerm === meta.term,
      () => `restore: image is at ${image.appliedIndex}/${image.appliedTerm}, meta says ${meta.index}/${meta.term}`,
    );
    this.data = new Map(image.records.map(({ key, record }) => [bytesToBinaryString(key), record]));
    this.sessions = new Map(image.sessions.map(({ client, seq, result }) => [client, { seq, result }]));
    this.applied = image.appliedIndex;
    this.appliedTermValue = image.appliedTerm;
  }

  private applyCommand(cmd: KvCommand, index: number): KvResult {
    const session = cmd.session;
    if (session) {
      const last = this.sessions.get(session.client);
      if (last && session.seq === last.seq) return last.result;
      if (last && session.seq < last.seq) return { ok: false, reason: 'session_stale' };
    }
    const result = this.execute(cmd, index);
    if (session) this.sessions.set(session.client, { seq: session.seq, result });
    return result;
  }

  private execute(cmd: KvCommand, index: number): KvResult {
    const k = bytesToBinaryString(cmd.key);
    const current = this.data.get(k) ?? null;
    switch (cmd.op) {
      case 'get':
        return { ok: true, revision: index, value: current };
      case 'put':
        this.data.set(k, nextRecord(current, cmd.value, index));
        return { ok: true, revision: index, prev: current };
      case 'delete':
        this.data.delete(k);
        return { ok: true, revision: index, prev: current };
      case 'cas': {
        const matches = cmd.expected === null ? current === null : current !== null && bytesEqual(current.value, cmd.expected);
        if (!matches) return { ok: false, reason: 'compare_failed', current };
        this.data.set(k, nextRecord(current, cmd.value, index));
        return { ok: true, revision: index, prev: current };
      }
    }
  }
}

function nextRecord(current: KvRecord | null, value: Uint8Array, index: number): KvRecord {
  return current === null
    ? { value, createRevision: index, modRevision: index, version: 1 }
    : { value, createRevision: current.createRevision, modRevision: index, version: current.version + 1 };
}
