/**
 * The simulator's key-value state machine: the shared semantics (KvStateMachineCore) over the
 * memory backend. Volatile on purpose: a crash loses it, and the runtime rebuilds it from the
 * log store's snapshot plus log replay, which is exactly the path the simulator wants exercised.
 */
import type { KvBackend, KvRestoreTarget } from './kv-backend.ts';
import type { KvLimits } from './kv-limits.ts';
import { KvStateMachineCore, type KvStorage } from './kv-state-machine-core.ts';
import { MemoryKvBackend, memoryRestoreTarget } from './memory-kv-backend.ts';

class MemoryKvStorage implements KvStorage {
  private live: KvBackend = new MemoryKvBackend();

  backend(): KvBackend {
    return this.live;
  }

  newRestoreTarget(): KvRestoreTarget {
    return memoryRestoreTarget((b) => (this.live = b));
  }

  async close(): Promise<void> {}
}

export class MemoryKvStateMachine extends KvStateMachineCore {
  constructor(limits?: KvLimits) {
    super(new MemoryKvStorage(), limits);
  }
}
