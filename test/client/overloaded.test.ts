/**
 * OVERLOADED: a node whose client connection is over its in-flight bound refuses the extra
 * requests unread, and the client backs off and retries them until they succeed, each write
 * retried with the very bytes it was first proposed with (same session, same sequence number),
 * so exactly-once holds. Against a ClientServer with a scripted service that counts what
 * reaches it, then against three real Servers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.ts';
import { connect } from '../../src/client/connect.ts';
import { RemoteEndpoint } from '../../src/client/remote-endpoint.ts';
import type { Endpoint } from '../../src/client/endpoint.ts';
import { Lifetime } from '../../src/client/lifetime.ts';
import { Router } from '../../src/client/router.ts';
import { TesseraError, isTesseraError } from '../../src/errors.ts';
import type { ClientService } from '../../src/net/tcp/client-protocol.ts';
import { ClientServer } from '../../src/net/tcp/client-server.ts';
import { decodeCommand } from '../../src/store/kv-command.ts';
import type { KvApplyResult } from '../../src/store/kv-state-machine.ts';
import { CLUSTER_ID, SECRET as SERVER_SECRET, ServerSet } from '../cluster/server-harness.ts';
import { FaultyEndpoint } from './faulty-endpoint.ts';

const HOST = '127.0.0.1';
const SECRET = new TextEncoder().encode('overloaded test secret, 32 bytes');
const CLUSTER = 'overload-test';
/** One request at a time per connection: any concurrency at all overloads it. */
const MAX_INFLIGHT = 1;
const WRITES = 16;
/** Writes in flight at once (one session each): more than the node takes on one connection. */
const SESSIONS = 4;
/** How long the scripted node works on a proposal: long enough for the others to pile up. */
const PROPOSE_MS = 15;
const CLIENT_OPTIONS = { sessions: SESSIONS, timeoutMs: 30_000, attemptTimeoutMs: 5_000, backoff: { minMs: 5, maxMs: 50 } };

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A node that applies every proposal it is given, a little later, and remembers them. */
function countingService(applied: Uint8Array[]): ClientService {
  let revision = 0;
  const unused = () => Promise.reject(new Error('not used by this test'));
  return {
    leaderHint: () => 1,
    propose: async (command: Uint8Array): Promise<KvApplyResult> => {
      await sleep(PROPOSE_MS);
      applied.push(command);
      return { ok: true, revision: ++revision, prev: null };
    },
    readBarrier: async () => revision,
    leaseReadBarrier: async () => revision,
    get: unused,
    range: unused,
    events: unused,
    readTable: unused,
    waitApplied: async () => revision,
    status: unused,
  };
}

describe('OVERLOADED', () => {
  it('is answered past a connection’s in-flight bound; the client backs off and retries the same bytes until each write succeeds once', async () => {
    const applied: Uint8Array[] = [];
    const server = await ClientServer.create({
      nodeId: 1,
      clusterId: CLUSTER,
      secret: SECRET,
      listen: { host: HOST, port: 0 },
      service: countingService(applied),
      adoptPeer: null,
      log: () => {},
      limits: { maxInflightRequests: MAX_INFLIGHT },
    });
    cleanups.push(() => server.close());
    const remote = new RemoteEndpoint(1, { host: HOST, port: server.port }, { clusterId: CLUSTER, secret: SECRET, handshakeTimeoutMs: 2000 });
    cleanups.push(() => remote.close());
    // Every attempt, as sent, and how the node answered it.
    const attempts: { bytes: string; key: string; session: string; answer: string }[] = [];
    const endpoint = new FaultyEndpoint(remote);
    endpoint.hook = async (inner, command) => {
      const cmd = decodeCommand(command);
      const record = { bytes: hex(command), key: cmd.op === 'put' ? text(cmd.key) : '?', session: `${cmd.session?.client}#${cmd.session?.seq}`, answer: 'pending' };
      attempts.push(record);
      try {
        const res = await inner.propose(command);
        record.answer = 'ok';
        return res;
      } catch (e) {
        record.answer = isTesseraError(e) ? e.code : String(e);
        throw e;
      }
    };
    const end = Date.now() + 5000;
    while (!remote.isUp() && Date.now() < end) await sleep(5);
    const kv = new Client([endpoint], CLIENT_OPTIONS);
    cleanups.push(() => kv.close());

    const results = await Promise.all(Array.from({ length: WRITES }, (_, i) => kv.put(`k/${i}`, `v${i}`)));

    expect(results).toHaveLength(WRITES);
    const overloaded = attempts.filter((a) => a.answer === 'OVERLOADED');
    expect(overloaded.length).toBeGreaterThan(0);
    expect(server.stats().refusedRequests).toBe(overloaded.length);
    expect(attempts.every((a) => a.answer === 'ok' || a.answer === 'OVERLOADED')).toBe(true);
    for (let i = 0; i < WRITES; i++) {
      const mine = attempts.filter((a) => a.key === `k/${i}`);
      // Every retry is the first attempt's bytes: one session, one sequence number.
      expect(new Set(mine.map((a) => a.bytes)).size).toBe(1);
      expect(mine.at(-1)!.answer).toBe('ok');
    }
    // A refused request never reached the node: each write was proposed to it exactly once.
    expect(applied.map((c) => hex(c)).sort()).toEqual([...new Set(attempts.map((a) => a.bytes))].sort());
    expect(applied).toHaveLength(WRITES);
  });

  it('the router backs off and asks a busy leader again (keeping it as the leader); a read moves on to another node', async () => {
    const tried: { leader: number[]; any: number[] } = { leader: [], any: [] };
    const busyTimes = 2;
    const endpoints = [1, 2, 3].map((id) => ({ id, isUp: () => true, leaderHint: () => 2 }) as unknown as Endpoint);
    const router = new Router(endpoints, new Lifetime('router test'), { attemptTimeoutMs: 1000, backoff: { minMs: 1, maxMs: 5 } });
    router.leader = 2;
    for (const target of ['leader', 'any'] as const) {
      const value = await router.run({ target, deadline: performance.now() + 5000, what: `a ${target} op` }, async (ep) => {
        tried[target].push(ep.id);
        if (ep.id === 2 && tried[target].length <= busyTimes) throw new TesseraError('OVERLOADED', 'busy');
        return ep.id;
      });
      expect(router.leader).toBe(2);
      if (target === 'leader') expect(value).toBe(2);
    }
    expect(tried.leader).toEqual([2, 2, 2]);
    expect(tried.any).toEqual([2, 3]);
  });

  it('three Servers with a tight in-flight bound: a remote client’s concurrent writes all succeed, each applied once', async () => {
    const set = await ServerSet.start(3, { clientLimits: { maxInflightRequests: MAX_INFLIGHT } });
    cleanups.push(() => set.close());
    await set.waitForLeader();
    const kv = await connect({ endpoints: set.endpoints, secret: SERVER_SECRET, clusterId: CLUSTER_ID, ...CLIENT_OPTIONS });
    cleanups.push(() => kv.close());

    await Promise.all(Array.from({ length: WRITES }, (_, i) => kv.put(`k/${i}`, `v${i}`)));

    const refused = [...set.servers.values()].reduce((n, s) => n + s.stats().clients.refusedRequests, 0);
    expect(refused).toBeGreaterThan(0);
    // A write applied twice would have left its key at version 2.
    for (let i = 0; i < WRITES; i++) expect(await kv.get(`k/${i}`)).toMatchObject({ version: 1 });
  });
});
