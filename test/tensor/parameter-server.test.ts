/** The parameter server on a real 3-node cluster: bsp, ssp and asp semantics, float32 updates, resume. */
import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../src/errors.ts';
import { fromTypedArray, toTypedArray } from '../../src/tensor/dtype.ts';
import { ParameterServer } from '../../src/tensor/parameter-server.ts';
import { startCluster } from '../cluster/harness.ts';

const vec = (...v: number[]) => fromTypedArray('F32', [v.length], v);
const values = (t: { dtype: 'F32'; shape: readonly number[]; data: Uint8Array } | undefined) => Array.from(toTypedArray(t!) as Float32Array);

describe('ParameterServer', () => {
  it('bsp: no worker sees step t+1 before every worker pushed for step t; updates are float32 and in worker order', async () => {
    const cluster = await startCluster();
    const ps = new ParameterServer(cluster.client());
    await ps.init('lin', { w: vec(1, 1) }, { mode: 'bsp', workers: 3 });
    const log: string[] = [];
    const run = async (id: number) => {
      const w = new ParameterServer(cluster.client()).worker('lin', id);
      for (let step = 0; step < 4; step++) {
        const snap = await w.pull();
        // Every worker computes on the parameters of the same, complete step.
        expect(snap.step).toBe(step);
        log.push(`${id}@${snap.step}`);
        await w.push({ w: vec(id + 1, 0.1) }, { lr: 0.01 });
      }
    };
    await Promise.all([run(0), run(1), run(2)]);
    const final = await ps.pull('lin');
    expect(final.step).toBe(4);
    expect(final.clocks).toEqual([4, 4, 4]);
    let w0 = 1;
    let w1 = 1;
    for (let s = 0; s < 4; s++) {
      for (let id = 0; id < 3; id++) {
        w0 = Math.fround(w0 - Math.fround(Math.fround(0.01) * (id + 1)));
        w1 = Math.fround(w1 - Math.fround(Math.fround(0.01) * Math.fround(0.1)));
      }
    }
    expect(values(final.tensors.get('w') as never)).toEqual([w0, w1]);
    // A worker never ran two steps ahead: in the log, step t+1 appears only after all three t's.
    for (let i = 0; i < log.length; i++) {
      const step = Number(log[i]!.split('@')[1]);
      const before = log.slice(0, i).filter((l) => Number(l.split('@')[1]) === step - 1).length;
      if (step > 0) expect(before).toBe(3);
    }
  });

  it('ssp: a fast worker waits when it is more than `staleness` pushes ahead', async () => {
    const cluster = await startCluster();
    const ps = new ParameterServer(cluster.client());
    await ps.init('lin', { w: vec(0) }, { mode: 'ssp', workers: 2, staleness: 2 });
    const fast = ps.worker('lin', 0);
    for (let i = 0; i < 3; i++) await fast.push({ w: vec(1) }, { lr: 1 });
    // Clock 3 vs 0: the next pull blocks until the slow worker pushes.
    const pending = fast.pull({ waitTimeoutMs: 10_000 });
    let done = false;
    void pending.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 150));
    expect(done).toBe(false);
    await ps.worker('lin', 1).push({ w: vec(1) }, { lr: 1 });
    const snap = await pending;
    expect(snap.clocks).toEqual([3, 1]);
    expect(values(snap.tensors.get('w') as never)).toEqual([-4]);
  });

  it('asp: pushes apply at once; a restarted worker resumes at its stored clock', async () => {
    const cluster = await startCluster();
    const ps = new ParameterServer(cluster.client());
    await ps.init('lin', { w: vec(10) }, { mode: 'asp', workers: 2 });
    const first = ps.worker('lin', 1);
    await first.push({ w: vec(1) }, { lr: 2 });
    await first.push({ w: vec(1) }, { lr: 2 });
    const again = new ParameterServer(cluster.client()).worker('lin', 1);
    expect(again.clock).toBeNull();
    expect(await again.push({ w: vec(1) }, { lr: 2 })).toEqual({ clock: 3, step: 3 });
    expect(values((await ps.pull('lin')).tensors.get('w') as never)).toEqual([4]);
  });

  it('refuses bad input with typed errors', async () => {
    const cluster = await startCluster();
    const ps = new ParameterServer(cluster.client());
    const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (isTesseraError(e) ? e.code : String(e)));
    expect(await code(ps.init('lin', { w: fromTypedArray('I32', [1], [1]) }, { mode: 'asp', workers: 1 }))).toBe('INVALID_ARGUMENT');
    expect(await code(ps.init('bad/name', { w: vec(1) }, { mode: 'asp', workers: 1 }))).toBe('INVALID_ARGUMENT');
    await ps.init('lin', { w: vec(1) }, { mode: 'asp', workers: 1 });
    expect(await code(ps.init('lin', { w: vec(1) }, { mode: 'asp', workers: 1 }))).toBe('CONFLICT');
    expect(await code(ps.worker('lin', 0).push({ w: vec(1, 2) }, { lr: 1 }))).toBe('INVALID_ARGUMENT');
    expect(await code(ps.worker('lin', 5).pull())).toBe('INVALID_ARGUMENT');
    expect(await code(ps.pull('none'))).toBe('NOT_FOUND');
    // Names that differ only in a lone surrogate would encode alike; once applied, such a
    // command stopped every replica. Refused before it is proposed.
    expect(await code(ps.init('sur', { 'a\ud800': vec(1), 'a\udc00': vec(1) }, { mode: 'asp', workers: 1 }))).toBe('INVALID_ARGUMENT');
  });

  it('matches gradients to parameters by name, and refuses any that does not fit its parameter', async () => {
    const cluster = await startCluster();
    const ps = new ParameterServer(cluster.client());
    await ps.init('two', { a: vec(1, 1), b: vec(10, 10) }, { mode: 'asp', workers: 1 });
    const w = ps.worker('two', 0);
    // Given in the other order, each still lands on its own parameter.
    await w.push({ b: vec(1, 1), a: vec(100, 100) }, { lr: 1 });
    let snap = await ps.pull('two');
    expect(values(snap.tensors.get('a') as never)).toEqual([-99, -99]);
    expect(values(snap.tensors.get('b') as never)).toEqual([9, 9]);
    const message = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (isTesseraError(e, 'INVALID_ARGUMENT') ? e.message : String(e)));
    expect(await message(w.push({ a: vec(0, 0), b: vec(0, 0), x: vec(0, 0) }, { lr: 1 }))).toMatch(/no parameter "x"/);
    expect(await message(w.push({ a: vec(0, 0) }, { lr: 1 }))).toMatch(/no gradient for parameter "b"/);
    expect(await message(w.push({ a: fromTypedArray('F64', [2], [1, 1]), b: vec(0, 0) }, { lr: 1 }))).toMatch(/gradient of "a" is F64/);
    expect(await message(w.push({ a: fromTypedArray('F32', [1, 2], [1, 1]), b: vec(0, 0) }, { lr: 1 }))).toMatch(/shape \[1, 2\], the parameter \[2\]/);
    // A finite double that is no float32: refused as the replicas would decode it (this used to stop them all).
    expect(await message(w.push({ a: vec(0, 0), b: vec(0, 0) }, { lr: 1e39 }))).toMatch(/finite float32/);
    snap = await ps.pull('two');
    expect(snap.step).toBe(1);
    await w.push({ a: vec(1, 1), b: vec(1, 1) }, { lr: 1 });
    expect((await ps.pull('two')).step).toBe(2);
  });
});
