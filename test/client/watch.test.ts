import { describe, expect, it } from 'vitest';
import type { WatchEvent } from '../../src/client/types.ts';
import type { Watch } from '../../src/client/watch.ts';
import { isTesseraError } from '../../src/errors.ts';
import { DEFAULT_KV_LIMITS } from '../../src/store/kv-limits.ts';
import { s, sleep, startCluster } from '../cluster/harness.ts';

const show = (e: WatchEvent) => `${e.type} ${s(e.key)}${e.type === 'put' ? `=${s(e.value)}` : ''}`;

/** The next `n` events, failing the test if they take longer than `ms`. */
async function take(w: Watch, n: number, ms = 20_000): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  const deadline = performance.now() + ms;
  while (out.length < n) {
    const left = deadline - performance.now();
    const r = await Promise.race([w.next(), sleep(left).then(() => null)]);
    if (r === null) throw new Error(`only ${out.length} of ${n} events within ${ms} ms: ${out.map(show).join(', ')}`);
    if (r.done) throw new Error(`watch ended after ${out.length} events`);
    out.push(r.value);
  }
  return out;
}

describe('Client.watch', () => {
  it('delivers every event exactly once, in revision order, across stopNode(leader) while a writer writes', async () => {
    const cluster = await startCluster();
    await cluster.waitForLeader();
    const writer = cluster.client();
    const watcher = cluster.client();
    await writer.put('w/seed', 'before the watch'); // must not be delivered
    const from = (await watcher.revision()) + 1;
    const watch = watcher.watch('w/', { fromRevision: from });

    const expected: string[] = [];
    const stopped: number[] = [];
    const writes = (async () => {
      for (let i = 0; i < 90; i++) {
        if (i === 30 || i === 60) {
          const leader = cluster.leader();
          if (leader !== 0) {
            stopped.push(leader);
            void cluster.stopNode(leader); // mid-stream, while writes are in flight
          }
        }
        if (i === 45) await cluster.startNode(stopped[0]!);
        const key = `w/${i % 7}`;
        if (i % 10 === 9) {
          await writer.delete(`w/${(i - 1) % 7}`);
          expected.push(`delete w/${(i - 1) % 7}`);
        } else if (i % 10 === 4) {
          // Two changes at one revision.
          await writer.txn({ compares: [], success: [{ op: 'put', key, value: `t${i}a` }, { op: 'put', key: 'w/txn', value: `t${i}b` }] });
          expected.push(`put ${key}=t${i}a`, `put w/txn=t${i}b`);
        } else {
          await writer.put(key, `v${i}`);
          expected.push(`put ${key}=v${i}`);
        }
        await writer.put(`other/${i}`, 'not watched');
      }
    })();
    const got = await take(watch, 90 + 9); // 9 txns add one event each
    await writes;
    expect(got.map(show)).toEqual(expected);
    // Strictly increasing (revision, sub), starting after the watch's start point.
    for (let i = 1; i < got.length; i++) {
      const [a, c] = [got[i - 1]!, got[i]!];
      expect(c.revision > a.revision || (c.revision === a.revision && c.sub === a.sub + 1)).toBe(true);
    }
    expect(got[0]!.revision).toBeGreaterThanOrEqual(from);
    expect(stopped).toHaveLength(2);
    // Nothing more arrives: no duplicates were queued behind.
    const extra = await Promise.race([watch.next(), sleep(300).then(() => 'none')]);
    expect(extra).toBe('none');
    watch.close();
  });

  it('starts from now by default; filters by prefix or exact key; entries carry revisions', async () => {
    const cluster = await startCluster();
    const kv = cluster.client();
    await kv.put('p/old', 'x');
    const all = kv.watch('p/');
    const exact = kv.watch('p/a', { exact: true });
    const first = all.next(); // fixes the start point (a read barrier) before the writes below
    while (all.nextRevision === undefined) await sleep(5);
    const put = await kv.put('p/a', '1');
    await kv.put('p/ab', '2');
    await kv.put('q/a', '3');
    await kv.delete('p/a');
    const r = await first;
    expect(r.done).toBe(false);
    expect(show(r.value as WatchEvent)).toBe('put p/a=1');
    expect((r.value as WatchEvent).entry).toMatchObject({ version: 1, modRevision: put.revision });
    expect((await take(all, 2)).map(show)).toEqual(['put p/ab=2', 'delete p/a']);
    // The exact watch started at its first next(), after the writes: give it explicit history instead.
    exact.close();
    const exact2 = kv.watch('p/a', { exact: true, fromRevision: put.revision });
    expect((await take(exact2, 2)).map(show)).toEqual(['put p/a=1', 'delete p/a']);
    exact2.close();
    all.close();
  });

  it('ends with COMPACTED, never skipping, when the events were trimmed', async () => {
    const cluster = await startCluster({ kvLimits: { ...DEFAULT_KV_LIMITS, eventHistory: 10 } });
    const kv = cluster.client();
    for (let i = 0; i < 30; i++) await kv.put(`k${i}`, 'v');
    const w = kv.watch('', { fromRevision: 1 });
    const err = await w.next().catch((e: unknown) => e);
    expect(isTesseraError(err, 'COMPACTED'), String(err)).toBe(true);
    expect(await w.next()).toEqual({ done: true, value: undefined });
    // From a revision still held, it works.
    const recent = kv.watch('', { fromRevision: (await kv.revision()) - 3 });
    expect((await take(recent, 1))[0]!.type).toBe('put');
    recent.close();
  });

  it('close() ends a pending next(); for-await break closes it; a closed client fails it with CLOSED', async () => {
    const cluster = await startCluster();
    const kv = cluster.client();
    const w = kv.watch('nothing/');
    const pending = w.next();
    await sleep(50);
    w.close();
    expect(await pending).toEqual({ done: true, value: undefined });

    // "From now" is fixed by a barrier inside the first next(), so a write racing it may land
    // on either side: give the start explicitly.
    const w2 = kv.watch('x/', { fromRevision: (await kv.revision()) + 1 });
    setTimeout(() => void kv.put('x/1', 'a'), 50);
    for await (const e of w2) {
      expect(show(e)).toBe('put x/1=a');
      break;
    }
    expect(await w2.next()).toEqual({ done: true, value: undefined });

    // Nothing read ahead is delivered after a close: w4 reads a page of events, so z/2 is
    // usually buffered when z/1 comes out, and it is not handed out once the watch is closed
    // (nor after its client closes: w5).
    const from = (await kv.revision()) + 1;
    await kv.put('z/1', 'a');
    await kv.put('z/2', 'b');
    const w4 = kv.watch('z/', { fromRevision: from });
    expect(show((await w4.next()).value)).toBe('put z/1=a');
    w4.close();
    expect(await w4.next()).toEqual({ done: true, value: undefined });
    const w5 = kv.watch('z/', { fromRevision: from });
    expect(show((await w5.next()).value)).toBe('put z/1=a');

    const w3 = kv.watch('y/');
    const p3 = w3.next();
    await sleep(50);
    await kv.close();
    await expect(p3).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(w5.next()).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
