/**
 * Simulated nodes over the production LMDB classes, each in `<tmp>/node-<id>/{log,state}` of a
 * fresh temporary directory per run. Every commit is synchronous and durable, so a crash loses
 * nothing that was committed; what it loses are acknowledgements still scheduled on the
 * simulator (dropped with the node's events). Torn writes and bit flips cannot be injected.
 *
 * A restart reopens the same directories in the same process, and the whole run is one
 * synchronous call, so the previous incarnation must be closed synchronously. lmdb-js closes an
 * environment synchronously when it has no asynchronous writes or reads pending (read.js
 * `close`: `_endWrites` returns no promise and `doClose` runs inline), and our stores only use
 * transactionSync and synchronous reads; but both stores release their directory claim (the
 * guard against opening a path twice in one process) only after an `await`, i.e. in a microtask
 * that never runs during the run. So we check that no file under the node's directory is still
 * open (the native environment is really gone) and then release the claims ourselves. The
 * stores' own release still runs, later, once the run has returned: every incarnation is closed
 * by then, so dropping the claim again (possibly a later incarnation's) is harmless. It would not
 * be if anything awaited between simulator events; nothing does (raft-node.ts is callback-only).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NodeId } from '../../src/raft/types.ts';
import { LmdbKvStateMachine } from '../../src/store/lmdb-kv.ts';
import { LmdbLogStore } from '../../src/store/lmdb-log-store.ts';
import type { ClusterStorage, NodeStorage, NodeStores } from './node-storage.ts';

const CLUSTER_ID = 'tessera-sim';

class LmdbNodeStorage implements NodeStorage {
  readonly durableStateMachine = true;
  private readonly logDir: string;
  private readonly stateDir: string;
  private current: NodeStores | null = null;

  constructor(
    private readonly dir: string,
    private readonly id: NodeId,
  ) {
    this.logDir = path.join(dir, 'log');
    this.stateDir = path.join(dir, 'state');
  }

  open(defer: (job: () => void) => void): NodeStores {
    if (this.current) throw new Error(`node ${this.id}: stores already open`);
    const logStore = LmdbLogStore.open(this.logDir, { clusterId: CLUSTER_ID, nodeId: this.id, defer });
    let stateMachine;
    try {
      stateMachine = LmdbKvStateMachine.open(this.stateDir);
    } catch (e) {
      this.close([logStore]);
      throw e;
    }
    this.current = { logStore, stateMachine };
    return this.current;
  }

  crash(): string {
    this.shut();
    return 'crash: every LMDB commit was durable, unacknowledged writes kept';
  }

  flipBit(): null {
    return null;
  }

  /** Closes the open incarnation, if any. */
  shut(): void {
    const c = this.current;
    if (!c) return;
    this.current = null;
    this.close([c.logStore, c.stateMachine]);
  }

  /** Closes synchronously (see the file comment), so the directories can be opened again at once. */
  private close(stores: ReadonlyArray<{ close(): Promise<void> }>): void {
    // Not awaited (it cannot be, inside a simulator event); a late rejection is a bug and stays unhandled, loudly.
    for (const s of stores) void s.close();
    const open = openFilesUnder(this.dir);
    if (open.length > 0) throw new Error(`node ${this.id}: LMDB did not close synchronously, still open: ${open.join(', ')}`);
  }
}

/** A fresh `tessera-sim-*` directory under `parent` (default: the system's temporary directory). */
export function lmdbStorage(ids: readonly NodeId[], parent = os.tmpdir()): ClusterStorage {
  // Real path: /proc reports open files by it (os.tmpdir() may go through a symlink).
  const root = fs.realpathSync(fs.mkdtempSync(path.join(parent, 'tessera-sim-')));
  const nodes = new Map(ids.map((id) => [id, new LmdbNodeStorage(path.join(root, `node-${id}`), id)]));
  return {
    diskFaults: false,
    node: (id) => nodes.get(id)!,
    dispose: () => {
      const errors: unknown[] = [];
      for (const n of nodes.values()) {
        try {
          n.shut();
        } catch (e) {
          errors.push(e);
        }
      }
      fs.rmSync(root, { recursive: true, force: true });
      if (errors.length > 0) throw errors[0];
    },
  };
}

/** Files under `dir` this process holds open (Linux /proc; elsewhere the check is skipped). */
function openFilesUnder(dir: string): string[] {
  const fdDir = '/proc/self/fd';
  if (!fs.existsSync(fdDir)) return [];
  const prefix = path.resolve(dir) + path.sep;
  const out: string[] = [];
  for (const fd of fs.readdirSync(fdDir)) {
    let target: string;
    try {
      target = fs.readlinkSync(path.join(fdDir, fd));
    } catch {
      continue; // closed meanwhile (the fd used by readdir itself)
    }
    if (target.startsWith(prefix)) out.push(target);
  }
  return out;
}
