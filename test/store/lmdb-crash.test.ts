/**
 * Kill -9 in the middle of writing: everything acknowledged is there after reopening, and the
 * state machine's applied index is exactly as far as its data (one transaction per batch). A
 * process crash keeps the OS page cache, so this checks atomicity and acknowledgement order, not
 * fsync; the fsync behaviour of transactionSync is documented in lmdb-env.ts.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LmdbKvStateMachine } from '../../src/store/lmdb-kv.ts';
import { LmdbLogStore } from '../../src/store/lmdb-log-store.ts';
import { fromUtf8, utf8 } from '../../src/util/bytes.ts';
import { closeLater, tempDir } from './lmdb-fixtures.ts';

const CHILD = fileURLToPath(new URL('./lmdb-crash-child.ts', import.meta.url));

/** Runs the child until it reported `reports` lines, kills it, and returns the last number it reported. */
function runAndKill(mode: 'log' | 'log-async' | 'kv', dir: string, reports: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mode, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = 0;
    let last = 0;
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        last = Number(line.split(' ')[1]);
        if (++seen === reports) child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(last) : reject(new Error(`child exited ${code}: ${stderr}`))));
  });
}

describe('LMDB stores killed mid-write', () => {
  it.each(['log', 'log-async'] as const)('the log keeps every acknowledged save, each one whole (%s)', async (mode) => {
    const dir = tempDir('tessera-crash-');
    for (const reports of [50, 120]) {
      const acked = await runAndKill(mode, dir, reports);
      const store = LmdbLogStore.open(dir, { clusterId: 'crash', nodeId: 1 });
      expect(store.lastIndex()).toBeGreaterThanOrEqual(acked);
      // Every save writes its entries and a hard state committing the last of them: together or not at all.
      expect(store.initialState().hardState.commit).toBe(store.lastIndex());
      const all = store.entries(1, store.lastIndex() + 1, Infinity);
      expect(all.map((e) => fromUtf8(e.data))).toEqual(all.map((e) => `entry ${e.index}`));
      await store.close();
    }
  }, 60_000);

  it('the state machine is exactly at its applied index', async () => {
    const dir = tempDir('tessera-crash-');
    const applied = await runAndKill('kv', dir, 80);
    const sm = closeLater(LmdbKvStateMachine.open(dir));
    const at = sm.appliedIndex();
    expect(at).toBeGreaterThanOrEqual(applied);
    expect(at % 4).toBe(0); // whole batches only
    const counter = sm.get(utf8('counter'))!;
    expect(counter.version).toBe(at);
    expect(fromUtf8(counter.value)).toBe(String(at));
    expect(sm.range(utf8('k'), utf8('l'), { limit: 10_000 }).records).toHaveLength(at / 2);
    expect(sm.events(at - 3, 100).map((e) => e.revision)).toEqual([at - 3, at - 2, at - 2, at - 1, at, at]);
  }, 60_000);
});
