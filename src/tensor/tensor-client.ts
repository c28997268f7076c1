/**
 * What the tensor layer needs from a client. The tensor layer sits below the client (DESIGN.md
 * layers), so it names the few calls it uses instead of importing Client: the embedded client
 * and a remote one both satisfy this interface structurally.
 */
import type { KvBlobTable } from '../store/kv-backend.ts';
import type { KvResult } from '../store/kv-result.ts';
import type { ModelCommand } from '../store/model-command.ts';

export type Consistency = 'linearizable' | 'lease' | 'local';

export interface TensorReadOptions {
  readonly consistency?: Consistency;
  /** The node to read from first (e.g. a follower). */
  readonly node?: number;
  readonly timeoutMs?: number;
}

export interface TensorClientEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly modRevision: number;
}

export interface TensorClient {
  modelCommand(cmd: ModelCommand, options?: { readonly timeoutMs?: number }): Promise<KvResult>;
  readTable(table: KvBlobTable, key: Uint8Array, options?: TensorReadOptions & { readonly minRevision?: number }): Promise<Uint8Array | null>;
  get(key: Uint8Array, options?: TensorReadOptions): Promise<TensorClientEntry | null>;
  range(prefix: Uint8Array, options?: TensorReadOptions): AsyncIterable<TensorClientEntry>;
  /** A linearizable read point: every write acknowledged before the call has a revision <= it. */
  revision(options?: { readonly timeoutMs?: number }): Promise<number>;
}
