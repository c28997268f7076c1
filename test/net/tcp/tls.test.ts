import { afterEach, describe, expect, it } from 'vitest';
import type { TcpTlsOptions } from '../../../src/net/tcp/tls.ts';
import { HOST, TestCluster, closed, heartbeat, rawConnect, sleep, until } from './net-helpers.ts';
import { ROGUE_CA_CERT, ROGUE_NODE_CERT, ROGUE_NODE_KEY, TRUSTED_CA_CERT, TRUSTED_NODE_CERT, TRUSTED_NODE_KEY } from './tls-fixtures.ts';

const TRUSTED: TcpTlsOptions = { cert: TRUSTED_NODE_CERT, key: TRUSTED_NODE_KEY, ca: TRUSTED_CA_CERT };
const ROGUE: TcpTlsOptions = { cert: ROGUE_NODE_CERT, key: ROGUE_NODE_KEY, ca: ROGUE_CA_CERT };

const clusters: TestCluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.close()));
});

function cluster(): TestCluster {
  const c = new TestCluster();
  clusters.push(c);
  return c;
}

describe('TcpNetwork over TLS', () => {
  it('delivers messages over mutual TLS, with the HMAC handshake inside', async () => {
    const c = cluster();
    const a = await c.start(1, { tls: TRUSTED });
    const b = await c.start(2, { tls: TRUSTED });
    a.network.transportFor(1).send(heartbeat(1, 2, 'over tls'));
    b.network.transportFor(2).send(heartbeat(2, 1, 'and back'));
    expect(await until(() => a.received.length === 1 && b.received.length === 1)).toBe(true);
    expect(b.received[0]!.context).toBe('over tls');
    expect(a.logs).toEqual([]);
    expect(b.logs).toEqual([]);
  });

  it('a node whose certificate is from another CA cannot connect, in either direction; the cluster keeps working', async () => {
    const c = cluster();
    const a = await c.start(1, { tls: TRUSTED });
    const b = await c.start(2, { tls: TRUSTED });
    const rogue = await c.start(3, { tls: ROGUE });
    for (let i = 0; i < 10; i++) {
      rogue.network.transportFor(3).send(heartbeat(3, 1));
      a.network.transportFor(1).send(heartbeat(1, 3));
      await sleep(15);
    }
    a.network.transportFor(1).send(heartbeat(1, 2, 'still fine'));
    expect(await until(() => b.received.some((m) => m.context === 'still fine'))).toBe(true);
    expect(a.received).toEqual([]);
    expect(rogue.received).toEqual([]);
    // The rogue dialler and node 1 dialling the rogue each report a failed TLS handshake, once.
    expect(rogue.logs.filter((e) => e.peer === 'node 1').map((e) => e.code)).toEqual(['AUTH_FAILED']);
    expect(a.logs.filter((e) => e.peer === 'node 3').map((e) => e.code)).toEqual(['AUTH_FAILED']);
    expect(a.logs.find((e) => e.peer === 'node 3')!.message).toMatch(/TLS/);
  });

  it('a plain-TCP client speaking to a TLS listener is disconnected and logged once', async () => {
    const c = cluster();
    const a = await c.start(1, { tls: TRUSTED });
    for (let i = 0; i < 3; i++) {
      const s = await rawConnect(a.network.port);
      s.on('error', () => {});
      s.write('definitely not a TLS ClientHello\r\n');
      expect(await closed(s)).toBeLessThan(1000);
    }
    expect(a.logs.map((e) => [e.peer, e.code])).toEqual([[HOST, 'AUTH_FAILED']]);
  });

  it('a caller that never starts TLS is disconnected at the handshake deadline and logged once', async () => {
    const c = cluster();
    const a = await c.start(1, { tls: TRUSTED, tuning: { handshakeTimeoutMs: 300 } });
    const s = await rawConnect(a.network.port);
    s.on('error', () => {});
    expect(await closed(s)).toBeLessThan(5000);
    expect(await until(() => a.network.stats().openSockets === 0)).toBe(true);
    expect(a.logs.map((e) => [e.peer, e.code])).toEqual([[HOST, 'TIMEOUT']]);
  });

  it('bounds connections still in their TLS handshake by maxPendingHandshakes, and a freed place is taken again', async () => {
    const c = cluster();
    const a = await c.start(1, { tls: TRUSTED, tuning: { maxPendingHandshakes: 2 } });
    const b = await c.start(2, { tls: TRUSTED });
    // Two callers that never start TLS hold both places.
    const idle = await Promise.all([rawConnect(a.network.port), rawConnect(a.network.port)]);
    for (const s of idle) s.on('error', () => {});
    expect(await until(() => a.network.stats().openSockets >= 2)).toBe(true);
    const third = await rawConnect(a.network.port);
    third.on('error', () => {});
    expect(await closed(third)).toBeLessThan(1000);
    expect(a.network.stats().refusedConnections).toBe(1);
    expect(a.logs.some((e) => e.code === 'CLOSED' && e.message.includes('too many handshakes in progress'))).toBe(true);
    idle[0]!.destroy();
    idle[1]!.destroy();
    // With the places free again, a real peer gets in.
    b.network.transportFor(2).send(heartbeat(2, 1, 'after the flood'));
    expect(await until(() => a.received.some((m) => m.context === 'after the flood'))).toBe(true);
  });
});
