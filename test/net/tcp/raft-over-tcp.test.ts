/**
 * The real node code (Node: RaftNode over LMDB) on TcpNetworks over loopback: a leader is
 * elected, writes replicate, and a follower that was down while the log was compacted past it
 * catches up through a snapshot streamed over its bulk lane, after its network is recreated on
 * the same port.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Node } from '../../../src/cluster/node.ts';
import { TcpNetwork } from '../../../src/net/tcp/tcp-network.ts';
import type { TcpLogEvent } from '../../../src/net/tcp/log-once.ts';
import type { PeerAddress } from '../../../src/net/tcp/tls.ts';
import type { NodeId } from '../../../src/raft/types.ts';
import { encodeCommand } from '../../../src/store/kv-command.ts';
import { fromUtf8, utf8 } from '../../../src/util/bytes.ts';
import { compactedPast } from '../../cluster/node-log.ts';
import { CLUSTER, FAST_TUNING, HOST, SECRET, until } from './net-helpers.ts';

const dirs: string[] = [];
const running: { node: Node; network: TcpNetwork }[] = [];
afterEach(async () => {
  await Promise.allSettled(running.splice(0).map(async (r) => (await r.node.close(), await r.network.close())));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('Raft over TCP', () => {
  it('elects a leader, replicates, and catches a restarted follower up by snapshot over the bulk lane', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-tcp-'));
    dirs.push(root);
    const peers = new Map<NodeId, PeerAddress>();
    const logs: TcpLogEvent[] = [];
    const ids = [1, 2, 3];
    // A short control queue: appends queued for the stopped follower (still carrying entries the
    // leader has since compacted) are dropped, so it must be caught up by snapshot, not by them.
    const tuning = { ...FAST_TUNING, controlQueueMaxMessages: 8 };

    const start = async (id: NodeId, port = 0) => {
      const network = await TcpNetwork.create({ nodeId: id, clusterId: CLUSTER, listen: { host: HOST, port }, peers, secret: SECRET, tuning, log: (e) => logs.push(e) });
      peers.set(id, { host: HOST, port: network.port });
      const node = await Node.open({ id, dir: path.join(root, `n${id}`), peers: ids, transport: network, clusterId: CLUSTER, tickMs: 10, snapshotEvery: 20, snapshotChunkBytes: 4096 });
      const r = { node, network };
      running.push(r);
      return r;
    };
    const nodes = new Map<NodeId, { node: Node; network: TcpNetwork }>();
    for (const id of ids) nodes.set(id, await start(id));
    const leader = () => [...nodes.values()].find((r) => r.node.isUp && r.node.isLeader());
    expect(await until(() => leader() !== undefined, 5000)).toBe(true);

    const put = (k: string, v: string) => leader()!.node.propose(encodeCommand({ op: 'put', key: utf8(k), value: utf8(v) }));
    await put('hello', 'tcp');
    expect(await until(() => ids.every((id) => nodes.get(id)!.node.get(utf8('hello')) !== null), 3000)).toBe(true);

    // Stop a follower (node and network), write past several snapshots, then bring it back on the same port.
    const followerId = ids.find((id) => !nodes.get(id)!.node.isLeader())!;
    const follower = nodes.get(followerId)!;
    const port = follower.network.port;
    const stoppedAt = follower.node.status().lastIndex;
    await follower.node.close();
    await follower.network.close();
    running.splice(running.indexOf(follower), 1);
    for (let i = 0; i < 100; i++) await put(`k${i}`, 'x'.repeat(500) + i);
    await compactedPast(leader()!.node, stoppedAt + 1);
    const back = await start(followerId, port);
    nodes.set(followerId, back);
    expect(await until(() => back.node.get(utf8('k99')) !== null, 10_000)).toBe(true);
    expect(fromUtf8(back.node.get(utf8('k99'))!.value)).toBe('x'.repeat(500) + 99);
    const leaderNet = leader()!.network.stats();
    const bulk = leaderNet.links.find((l) => l.peer === followerId && l.lane === 'bulk');
    expect(bulk?.sentMessages ?? 0).toBeGreaterThan(0); // the snapshot went over the bulk lane
    expect(logs.filter((e) => e.code === 'AUTH_FAILED' || e.code === 'PROTOCOL_ERROR')).toEqual([]);
  });
});
