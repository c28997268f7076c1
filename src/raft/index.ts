export { Raft, type RaftStorage, type RaftStatus, type Proposed } from './raft.ts';
export { raftConfig, type RaftConfig } from './config.ts';
export * from './types.ts';
