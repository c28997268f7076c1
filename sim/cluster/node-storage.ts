/**
 * What a simulated node keeps across crashes, behind one interface, so the same cluster runs
 * over the memory twins (a simulated disk that can lose unsynced writes, tear the last one and
 * flip bits) or over the production LMDB classes (lmdb-storage.ts).
 */
import type { LogStore, Random } from '../../src/node/ports.ts';
import type { NodeId } from '../../src/raft/types.ts';
import type { KvStateMachine } from '../../src/store/kv-state-machine.ts';
import { MemoryDisk } from '../../src/store/memory-disk.ts';
import { MemoryKvStateMachine } from '../../src/store/memory-kv.ts';
import { MemoryLogStore } from '../../src/store/memory-log-store.ts';

export const SIM_STORES = ['memory', 'lmdb'] as const;
export type SimStore = (typeof SIM_STORES)[number];

export interface NodeStores {
  readonly logStore: LogStore;
  readonly stateMachine: KvStateMachine;
}

export interface NodeStorage {
  /** The state machine survives a crash, so a restarted node resumes at its applied index. */
  readonly durableStateMachine: boolean;
  /** Opens the stores of a new incarnation; `defer` schedules log acknowledgements. Throws CORRUPTION. */
  open(defer: (job: () => void) => void): NodeStores;
  /** Power loss of the open incarnation (already stopped). Returns what the disk kept, for the trace. */
  crash(random: Random, tear: boolean): string;
  /** Silent corruption of a stopped node's durable log; null if nothing was corrupted. */
  flipBit(random: Random): string | null;
}

export interface ClusterStorage {
  /** Torn writes and bit flips can be injected. */
  readonly diskFaults: boolean;
  node(id: NodeId): NodeStorage;
  /** End of the run, nodes stopped: closes what is open and removes what the run left on disk. */
  dispose(): void;
}

class MemoryNodeStorage implements NodeStorage {
  readonly durableStateMachine = false;
  private readonly disk = new MemoryDisk();

  open(defer: (job: () => void) => void): NodeStores {
    // The disk fences off the previous incarnation's writer by itself, so nothing is closed on crash.
    return { logStore: new MemoryLogStore(this.disk, { defer }), stateMachine: new MemoryKvStateMachine() };
  }

  crash(random: Random, tear: boolean): string {
    return this.disk.crash(random, { tear });
  }

  flipBit(random: Random): string | null {
    return this.disk.flipBit(random);
  }
}

export function memoryStorage(ids: readonly NodeId[]): ClusterStorage {
  const nodes = new Map(ids.map((id) => [id, new MemoryNodeStorage()]));
  return {
    diskFaults: true,
    node: (id) => nodes.get(id)!,
    dispose: () => {},
  };
}
