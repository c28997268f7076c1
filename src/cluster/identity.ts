/**
 * Who a directory belongs to. `<dir>/cluster.json` names the cluster and its size; each
 * `<node dir>/node.json` names the cluster and the node. Opening checks them before any store is
 * touched, so pointing a node at another node's (or cluster's) data fails with one clear error
 * instead of a Raft node starting on a foreign log, which would break every safety argument.
 * (The log store records its identity too; these files also cover the state machine directory
 * and the cluster's shape, and make the failure a distinct error code.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { TesseraError } from '../errors.ts';
import { writeFileAtomic } from '../store/lmdb-env.ts';

const FORMAT = 1;
export const CLUSTER_FILE = 'cluster.json';
export const NODE_FILE = 'node.json';

export interface ClusterManifest {
  readonly clusterId: string;
  readonly nodes: number;
}

export interface NodeIdentity {
  readonly clusterId: string;
  readonly nodeId: number;
  /**
   * The voters the node was created with, sorted. Raft takes its initial membership from the
   * options of every start; a node restarted with other peers (say, alone) would elect itself
   * and accept writes the real cluster never sees. Absent in directories of earlier versions,
   * which get it on their next open.
   */
  readonly voters?: readonly number[];
}

/** The manifest of the cluster in `dir`, or null if none was ever written there. */
export function readClusterManifest(dir: string): ClusterManifest | null {
  const file = path.join(dir, CLUSTER_FILE);
  const raw = readJson(file);
  if (raw === null) return null;
  const { clusterId, nodes } = raw as Partial<Record<string, unknown>>;
  if (typeof clusterId !== 'string' || clusterId.length === 0 || !Number.isSafeInteger(nodes) || (nodes as number) < 1) {
    throw new TesseraError('CORRUPTION', `${file} is not a cluster manifest`);
  }
  return { clusterId, nodes: nodes as number };
}

export function writeClusterManifest(dir: string, m: ClusterManifest): void {
  writeFileAtomic(path.join(dir, CLUSTER_FILE), `${JSON.stringify({ format: FORMAT, clusterId: m.clusterId, nodes: m.nodes })}\n`);
}

/** Throws IDENTITY_MISMATCH unless the manifest matches what the caller asked for. */
export function checkClusterManifest(dir: string, have: ClusterManifest, want: { clusterId?: string; nodes: number }): void {
  const where = path.resolve(dir);
  if (want.clusterId !== undefined && want.clusterId !== have.clusterId) {
    throw new TesseraError('IDENTITY_MISMATCH', `${where} holds cluster ${JSON.stringify(have.clusterId)}, not ${JSON.stringify(want.clusterId)}`);
  }
  if (want.nodes !== have.nodes) {
    throw new TesseraError('IDENTITY_MISMATCH', `${where} holds a ${have.nodes}-node cluster, not a ${want.nodes}-node one`);
  }
}

/** The identity recorded in a node directory, or null for a directory no node ever used. */
export function readNodeIdentity(dir: string): NodeIdentity | null {
  const file = path.join(dir, NODE_FILE);
  const raw = readJson(file);
  if (raw === null) return null;
  const { clusterId, nodeId, voters } = raw as Partial<Record<string, unknown>>;
  const votersOk = voters === undefined || (Array.isArray(voters) && voters.every((v) => Number.isSafeInteger(v) && v > 0));
  if (typeof clusterId !== 'string' || !Number.isSafeInteger(nodeId) || !votersOk) throw new TesseraError('CORRUPTION', `${file} is not a node identity`);
  return { clusterId, nodeId: nodeId as number, ...(voters !== undefined && { voters: voters as number[] }) };
}

export function writeNodeIdentity(dir: string, id: NodeIdentity): void {
  const voters = id.voters === undefined ? {} : { voters: [...id.voters].sort((a, b) => a - b) };
  writeFileAtomic(path.join(dir, NODE_FILE), `${JSON.stringify({ format: FORMAT, clusterId: id.clusterId, nodeId: id.nodeId, ...voters })}\n`);
}

/** Throws IDENTITY_MISMATCH unless `have` is this node of this cluster, with these voters if it recorded them. */
export function checkNodeIdentity(dir: string, have: NodeIdentity, want: NodeIdentity): void {
  const where = path.resolve(dir);
  if (have.clusterId !== want.clusterId || have.nodeId !== want.nodeId) {
    throw new TesseraError(
      'IDENTITY_MISMATCH',
      `${where} belongs to node ${have.nodeId} of cluster ${JSON.stringify(have.clusterId)}, ` +
        `not to node ${want.nodeId} of cluster ${JSON.stringify(want.clusterId)}`,
    );
  }
  if (have.voters === undefined || want.voters === undefined) return;
  const a = [...have.voters].sort((x, y) => x - y);
  const b = [...want.voters].sort((x, y) => x - y);
  if (a.length !== b.length || a.some((v, i) => v !== b[i])) {
    throw new TesseraError('IDENTITY_MISMATCH', `${where} is a node of a cluster of nodes ${a.join(', ')}, not of nodes ${b.join(', ')} (membership cannot change yet)`);
  }
}

/** IDENTITY_MISMATCH if `dir` holds the other kind of directory (a cluster's, when a node's is wanted, or the reverse). */
export function refuseOtherKind(dir: string, want: 'cluster' | 'node'): void {
  const other = want === 'cluster' ? NODE_FILE : CLUSTER_FILE;
  if (fs.existsSync(path.join(dir, other))) {
    const what = want === 'cluster' ? "a single node's directory (it has node.json)" : "an in-process cluster's directory (it has cluster.json)";
    throw new TesseraError('IDENTITY_MISMATCH', `${path.resolve(dir)} is ${what}, not a ${want}'s`);
  }
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || (v as { format?: unknown }).format !== FORMAT) throw new Error('unknown format');
    return v;
  } catch (e) {
    throw new TesseraError('CORRUPTION', `${file} is unreadable: ${(e as Error).message}`, { cause: e });
  }
}
