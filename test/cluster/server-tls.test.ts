/**
 * Three Servers with TLS on loopback (the whole public port and every peer link), and remote
 * clients: a TLS client with a certificate from the cluster's CA reads and writes through any
 * node; a clear-text client, a client with another CA's certificate, and a client trusting
 * another CA are refused with typed errors while the cluster keeps serving; and no listener of
 * a node, the public port or the peer network's internal one, takes clear text.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/connect.ts';
import type { RemoteClient } from '../../src/client/remote-client.ts';
import type { ClientOptions } from '../../src/client/types.ts';
import type { LogFields, LogLevel } from '../../src/cluster/server-log.ts';
import { ClientHandshake } from '../../src/net/tcp/handshake.ts';
import { LANE_CHANNEL } from '../../src/net/tcp/lanes.ts';
import type { TcpTlsOptions } from '../../src/net/tcp/tls.ts';
import type { NodeId } from '../../src/raft/types.ts';
import { ROGUE_CA_CERT, ROGUE_NODE_CERT, ROGUE_NODE_KEY, TRUSTED_CA_CERT, TRUSTED_NODE_CERT, TRUSTED_NODE_KEY } from '../net/tcp/tls-fixtures.ts';
import { CLUSTER_ID, HOST, SECRET, ServerSet } from './server-harness.ts';

const TRUSTED: TcpTlsOptions = { cert: TRUSTED_NODE_CERT, key: TRUSTED_NODE_KEY, ca: TRUSTED_CA_CERT };
const CLIENT: ClientOptions = { attemptTimeoutMs: 1000, timeoutMs: 20_000, backoff: { minMs: 10, maxMs: 200 } };

interface LogLine {
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields: LogFields;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Far past the moment a node closes a connection that fails TLS (at once); short of the handshake deadline. */
const PROBE_WAIT_MS = 1500;

describe('a TLS cluster of 3 servers', () => {
  let set: ServerSet;
  let kv: RemoteClient;
  const logs: LogLine[] = [];
  /** Warnings about client connections refused for a failed TLS handshake. */
  const tlsRefusals = () => logs.filter((l) => l.msg === 'client connection' && l.fields.code === 'AUTH_FAILED' && /TLS handshake failed/.test(String(l.fields.message)));

  beforeAll(async () => {
    set = await ServerSet.start(3, { tls: TRUSTED, log: (level, msg, fields = {}) => logs.push({ level, msg, fields }) });
    await set.waitForLeader();
    kv = await connect({ endpoints: set.endpoints.slice(0, 1), secret: SECRET, clusterId: CLUSTER_ID, tls: TRUSTED, ...CLIENT });
  });
  afterAll(async () => {
    await kv?.close();
    await set?.close();
  });

  it('serves puts and gets of a TLS client through every node', async () => {
    expect(kv.remotes.map((r) => r.id)).toEqual([1, 2, 3]);
    for (let i = 0; i < 10; i++) await kv.put(`tls/${i}`, `v${i}`);
    // Linearizable reads from each node: the followers got the writes over TLS peer links.
    for (const node of [1, 2, 3]) expect(await kv.getString('tls/9', { node })).toBe('v9');
    expect(await kv.getString('tls/3', { node: 2, consistency: 'local' })).toBe('v3');
    expect(logs.filter((l) => l.msg === 'peer connection' && l.fields.code === 'AUTH_FAILED')).toEqual([]);
  });

  // First of the refusals: all of them share one log key per address and code, logged once.
  it('refuses a clear-text client with a typed error, logs it once, and keeps serving', async () => {
    for (let i = 0; i < 3; i++) {
      await expect(connect({ endpoints: set.endpoints.slice(0, 1), secret: SECRET, clusterId: CLUSTER_ID, ...CLIENT })).rejects.toMatchObject({
        code: 'AUTH_FAILED',
        message: expect.stringContaining('requires TLS'),
      });
    }
    const end = Date.now() + 3000;
    while (tlsRefusals().length === 0 && Date.now() < end) await sleep(5);
    await sleep(50);
    expect(tlsRefusals()).toHaveLength(1);
    expect(tlsRefusals()[0]!.fields.message).toMatch(/clear text/);
    await kv.put('after/clear-text', 'ok');
    expect(await kv.getString('after/clear-text', { node: 3 })).toBe('ok');
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    const foreign: TcpTlsOptions = { cert: ROGUE_NODE_CERT, key: ROGUE_NODE_KEY, ca: TRUSTED_CA_CERT };
    await expect(connect({ endpoints: set.endpoints, secret: SECRET, clusterId: CLUSTER_ID, tls: foreign, ...CLIENT })).rejects.toMatchObject({
      code: 'AUTH_FAILED',
      message: expect.stringContaining('refused our certificate'),
    });
    await kv.put('after/foreign-cert', 'ok');
  });

  it('a client trusting another CA refuses the nodes', async () => {
    const distrusting: TcpTlsOptions = { cert: TRUSTED_NODE_CERT, key: TRUSTED_NODE_KEY, ca: ROGUE_CA_CERT };
    await expect(connect({ endpoints: set.endpoints, secret: SECRET, clusterId: CLUSTER_ID, tls: distrusting, ...CLIENT })).rejects.toMatchObject({
      code: 'AUTH_FAILED',
      message: expect.stringMatching(/TLS handshake with .* failed/),
    });
    await kv.put('after/foreign-ca', 'ok');
  });

  it('no listener of a node takes clear text: neither the public port nor the internal peer one', async () => {
    const started = logs.filter((l) => l.msg === 'started');
    expect(started).toHaveLength(3);
    for (const l of started) {
      const id = Number(l.fields.id);
      for (const port of [Number(l.fields.port), Number(l.fields.peerPort)]) {
        // A peer's valid hello, in the clear: a clear-text node would answer it with its challenge.
        expect(await answerToClearHello(port, id)).toEqual({ closed: true, answeredBytes: 0 });
      }
    }
    await kv.put('after/probes', 'ok');
  });
});

/** Sends a correct handshake hello of a peer of `id` in clear text; what came back before the node closed. */
async function answerToClearHello(port: number, id: NodeId): Promise<{ closed: boolean; answeredBytes: number }> {
  const hello = new ClientHandshake({ clusterId: CLUSTER_ID, self: (id % 3) + 1, peer: id, channel: LANE_CHANNEL.control, secret: SECRET }).start();
  const s = net.connect({ host: HOST, port });
  s.on('error', () => {});
  let answeredBytes = 0;
  s.on('data', (d: Buffer) => (answeredBytes += d.length));
  s.write(hello);
  const closed = await Promise.race([new Promise<boolean>((r) => s.once('close', () => r(true))), sleep(PROBE_WAIT_MS).then(() => false)]);
  s.destroy();
  return { closed, answeredBytes };
}
