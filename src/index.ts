/**
 * The package root (`import ... from 'tesserakv'`): the embedding API (Cluster, Node, Client),
 * and below it the consensus core, the node runtime and the stores.
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

// The embedding API: durable nodes on LMDB, in-process clusters, clients.
export { Cluster, MAX_CLUSTER_NODES, type ClusterOptions } from './cluster/cluster.ts';
export { Node, type NodeOptions } from './cluster/node.ts';
export { DEFAULT_TUNING, type NodeTuning } from './cluster/tuning.ts';
export { Client, CLIENT_DEFAULTS } from './client/client.ts';
export type { Endpoint } from './client/endpoint.ts';
export { Watch } from './client/watch.ts';
export type * from './client/types.ts';
export { encodeKey, encodeValue, decodeString, decodeMsgpack, type Key, type Value, type KvEntry } from './client/values.ts';
export { InProcessNetwork, type InProcessNetworkOptions } from './net/in-process-transport.ts';
export type { Network, Receiver } from './net/network.ts';
export { TcpNetwork, type TcpNetworkOptions, type TcpNetworkStats } from './net/tcp/tcp-network.ts';
export type { TcpTlsOptions, PeerAddress } from './net/tcp/tls.ts';
export { SystemClock } from './node/system-clock.ts';
export { SystemRandom } from './node/system-random.ts';

// Models: versions of tensors in the store, file formats, the parameter server.
export type { Dtype, Tensor, TensorMap } from './tensor/tensor.ts';
export { DTYPES, bytesPerElement, byteLength, elementCount, fromTypedArray, toTypedArray, isDtype } from './tensor/dtype.ts';
export { TensorStore, type SaveOptions, type SaveResult, type LoadOptions, type LoadedModel, type ModelInfo, type ModelVersion, type VersionInfo } from './tensor/tensor-store.ts';
export type { TensorClient } from './tensor/tensor-client.ts';
export type { TensorSource, TensorSpec, TensorsInput } from './tensor/tensor-source.ts';
export { ParameterServer, ParameterWorker, type ParamSnapshot } from './tensor/parameter-server.ts';
export { importSafetensors, exportSafetensors, importTfjsWeights, type ExportOptions } from './tensor/model-files.ts';
export { openSafetensors, type SafetensorsReader } from './tensor/safetensors-reader.ts';
export { writeSafetensors } from './tensor/safetensors-writer.ts';
export { importTfjs } from './tensor/tfjs-reader.ts';
export { exportTfjs } from './tensor/tfjs-writer.ts';
export * from './store/model-limits.ts';

// Over the network: `tessera serve` nodes, the remote client, and the client protocol's limits.
export { Server, type ServerOptions } from './cluster/server.ts';
export { jsonLinesLogger, type Logger, type LogLevel, type LogFields } from './cluster/server-log.ts';
export { connect, type ConnectOptions } from './client/connect.ts';
export { RemoteClient, type NodeStatusResult } from './client/remote-client.ts';
export { RemoteEndpoint, type RemoteEndpointOptions } from './client/remote-endpoint.ts';
export { MAX_QUEUED_REQUESTS } from './client/remote-connection.ts';
export {
  DEFAULT_CLUSTER_ID,
  MAX_CLIENT_FRAME_BYTES,
  MAX_INFLIGHT_REQUESTS,
  REQUEST_DEADLINE_MS,
  MAX_WAIT_APPLIED_MS,
  MAX_PAGE_BYTES,
  MAX_CLIENT_CONNECTIONS,
  MAX_CLIENT_BACKLOG_BYTES,
  type NodeStatusReport,
} from './net/tcp/client-protocol.ts';
