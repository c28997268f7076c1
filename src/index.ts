/**
 * The package root (`import ... from 'tesserakv'`). The embedding API (Cluster, clients) lands
 * with the durable-nodes work; today this exports the consensus core, the node runtime and
 * the stores.
 */
export { TesseraError, isTesseraError, type TesseraErrorCode } from './errors.ts';
export * from './limits.ts';
export { Raft, raftConfig, type RaftConfig, type RaftStatus } from './raft/index.ts';
export type { Entry, HardState, Message, NodeId, Ready, Snapshot, SnapshotMeta } from './raft/types.ts';
export { RaftNode, type RaftNodeOptions, type NodeObserver } from './node/raft-node.ts';
export type { Clock, LogStore, Random, StateMachine, Transport } from './node/ports.ts';
export { MemoryDisk } from './store/memory-disk.ts';
export { MemoryLogStore } from './store/memory-log-store.ts';
export { MemoryKvStateMachine } from './store/memory-kv.ts';
export { LmdbLogStore } from './store/lmdb-log-store.ts';
export { LmdbKvStateMachine } from './store/lmdb-kv.ts';
