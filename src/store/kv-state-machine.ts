/**
 * The key-value state machine as the runtime and the client layer see it. The memory twin and
 * the LMDB implementation both satisfy it, and both run test/store/state-machine-conformance.ts.
 */
import type { StateMachine } from '../node/ports.ts';
import type { Entry } from '../raft/types.ts';
import type { KvRecord, KvResult } from './kv-command.ts';

/** One result per applied entry: null for Empty entries, which carry no command. */
export type KvApplyResult = KvResult | null;

export interface KvStateMachine extends StateMachine {
  apply(entries: readonly Entry[]): KvApplyResult[];
  /** A local (not linearizable on its own) read of the applied state. */
  get(key: Uint8Array): KvRecord | null;
  /** Term of the entry at appliedIndex() (0 before anything was applied). */
  appliedTerm(): number;
}
