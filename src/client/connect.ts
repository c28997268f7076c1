/**
 * connect(): a Client of a cluster of `tessera serve` nodes, over TCP.
 *
 *   const kv = await connect({ endpoints: ['10.0.0.1:7001', '10.0.0.2:7001'], secret });
 *   await kv.put('k', 'v'); const models = new TensorStore(kv); ... await kv.close();
 *
 * The endpoints need not name node ids, nor every node: each given address is dialled once, and
 * its handshake says which node it is; the first node to answer lists the cluster's members
 * with their addresses, and the client keeps one RemoteEndpoint per member (preferring the
 * address it was given over the one a node advertises). So one reachable address is enough,
 * and leader redirects reach nodes that were not listed.
 *
 * connect() resolves once one node has answered, and fails fast if none can be reached in
 * connectTimeoutMs (AUTH_FAILED if a node refused our secret or cluster id: retrying would not help).
 *
 * A cluster whose nodes run with TLS (`tessera serve --tls-*`) takes TLS connections only:
 *
 *   await connect({ endpoints, secret, tls: { ca: caPem, cert: clientCertPem, key: clientKeyPem } });
 *
 * The node's certificate must chain to `ca` and name the address dialled; the node requires a
 * certificate from its CA of every caller (its port is shared with peers, and TLS ends before
 * the first frame could tell a client from a peer), so a client needs one too. The secret's
 * HMAC handshake still runs inside TLS.
 */
import { TesseraError, isTesseraError } from '../errors.ts';
import { formatAddress, parseNamedAddress, type NamedAddress } from '../net/tcp/address.ts';
import { DEFAULT_CLUSTER_ID, type NodeStatusReport } from '../net/tcp/client-protocol.ts';
import { HANDSHAKE_TIMEOUT_MS, MIN_SECRET_BYTES } from '../net/tcp/handshake.ts';
import { checkTlsOptions, type PeerAddress, type TcpTlsOptions } from '../net/tcp/tls.ts';
import type { NodeId } from '../raft/types.ts';
import { RemoteClient } from './remote-client.ts';
import { RemoteConnection } from './remote-connection.ts';
import { RemoteEndpoint, type RemoteEndpointOptions } from './remote-endpoint.ts';
import type { ClientOptions } from './types.ts';

/** After the first node answers, the other probes get this long to answer too (their addresses are then known good). */
export const DISCOVERY_GRACE_MS = 250;

export interface ConnectOptions extends ClientOptions {
  /** `host:port`, `id=host:port`, or {host, port, id?}: at least one. */
  readonly endpoints: readonly (string | (PeerAddress & { readonly id?: NodeId }))[];
  /** The cluster secret (a string is taken as its UTF-8 bytes), at least MIN_SECRET_BYTES. */
  readonly secret: Uint8Array | string;
  /** Default DEFAULT_CLUSTER_ID ('tessera', as `tessera serve`). */
  readonly clusterId?: string;
  /** How long connect() waits for a first node. Default HANDSHAKE_TIMEOUT_MS. */
  readonly connectTimeoutMs?: number;
  /** Add the members the nodes know of (default true); false: only the endpoints given, which must then name their ids or answer the probe. */
  readonly discover?: boolean;
  /** Connections coming up and going down (for logs). */
  readonly onConnection?: RemoteEndpointOptions['onState'];
  /** Speak TLS: the CA the nodes' certificates chain to, and this client's certificate and key from that CA (PEM). */
  readonly tls?: TcpTlsOptions;
}

export async function connect(options: ConnectOptions): Promise<RemoteClient> {
  const { endpoints, secret: secretIn, clusterId = DEFAULT_CLUSTER_ID, connectTimeoutMs = HANDSHAKE_TIMEOUT_MS, discover = true, onConnection, tls, ...clientOptions } = options;
  const targets = endpoints.map(toNamed);
  if (targets.length === 0) throw new TesseraError('INVALID_ARGUMENT', 'connect: no endpoints');
  // A copy of bytes, never `new Uint8Array(n)` of a number: that would be n zero bytes.
  if (typeof secretIn !== 'string' && !(secretIn instanceof Uint8Array)) {
    throw new TesseraError('INVALID_ARGUMENT', `the cluster secret must be a string or a Uint8Array, got ${secretIn === null ? 'null' : typeof secretIn}`);
  }
  const secret = typeof secretIn === 'string' ? new TextEncoder().encode(secretIn) : new Uint8Array(secretIn);
  if (secret.byteLength < MIN_SECRET_BYTES) throw new TesseraError('INVALID_ARGUMENT', `the cluster secret must have at least ${MIN_SECRET_BYTES} bytes`);
  if (tls !== undefined) checkTlsOptions(tls, 'connect: tls');
  const endpointOptions: RemoteEndpointOptions = { clusterId, secret, handshakeTimeoutMs: connectTimeoutMs, ...(onConnection && { onState: onConnection }), ...(tls && { tls }) };

  const probes = targets.map((t) => ({
    target: t,
    result: null as RemoteConnection | TesseraError | null,
    done: RemoteConnection.open({ address: t.address, clusterId, secret, handshakeTimeoutMs: connectTimeoutMs, ...(t.id !== undefined && { expectedId: t.id }), ...(tls && { tls }) }),
  }));
  const settled = probes.map((p) =>
    p.done.then(
      (c) => {
        p.result = c;
        return c;
      },
      (e: unknown) => {
        p.result = e instanceof TesseraError ? e : new TesseraError('CLOSED', String(e), { cause: e });
        throw p.result;
      },
    ),
  );
  let first: RemoteConnection;
  try {
    first = await Promise.any(settled);
  } catch {
    throw unreachable(probes.map((p) => ({ target: p.target, error: p.result as TesseraError })));
  }
  let members: NodeStatusReport['members'] = [];
  if (discover) {
    try {
      members = (await first.request('status', [], connectTimeoutMs)).members;
    } catch {
      // Only the given endpoints, then: the client still works, without the unlisted nodes.
    }
  }
  await Promise.race([Promise.allSettled(settled), new Promise((r) => setTimeout(r, DISCOVERY_GRACE_MS))]);

  const chosen = new Map<NodeId, { address: PeerAddress; connection: RemoteConnection | null }>();
  for (const p of probes) {
    if (p.result instanceof RemoteConnection) {
      if (chosen.has(p.result.nodeId)) p.result.close(); // two addresses of one node
      else chosen.set(p.result.nodeId, { address: p.target.address, connection: p.result });
    } else if (p.result === null) {
      void p.done.then((c) => c.close(), () => {}); // too slow to wait for: its endpoint (if a member) dials anew
    }
  }
  for (const t of targets) if (t.id !== undefined && !chosen.has(t.id)) chosen.set(t.id, { address: t.address, connection: null });
  for (const m of members) if (!chosen.has(m.id) && m.address !== null) chosen.set(m.id, { address: m.address, connection: null });

  const remotes = [...chosen].map(([id, c]) => new RemoteEndpoint(id, c.address, endpointOptions, c.connection));
  return new RemoteClient(remotes, clientOptions);
}

function toNamed(e: ConnectOptions['endpoints'][number]): NamedAddress {
  if (typeof e === 'string') return parseNamedAddress(e);
  if (typeof e !== 'object' || e === null || typeof e.host !== 'string' || !Number.isInteger(e.port) || e.port < 1 || e.port > 65535) {
    throw new TesseraError('INVALID_ARGUMENT', `connect: an endpoint is "host:port" or { host, port } with a port in 1..65535, got ${JSON.stringify(e)}`);
  }
  if (e.id !== undefined && !(Number.isSafeInteger(e.id) && e.id > 0)) throw new TesseraError('INVALID_ARGUMENT', `connect: endpoint id must be a positive integer, got ${String(e.id)}`);
  return { id: e.id, address: { host: e.host, port: e.port } };
}

function unreachable(failures: readonly { target: NamedAddress; error: TesseraError }[]): TesseraError {
  const list = failures.map((f) => `${formatAddress(f.target.address)}: ${f.error.message}`).join('; ');
  // A refused secret or cluster id will not get better by retrying: say so with its own code.
  const auth = failures.find((f) => isTesseraError(f.error, 'AUTH_FAILED'));
  return new TesseraError(auth ? 'AUTH_FAILED' : 'CLOSED', `connect: no node could be reached: ${list}`, { cause: auth?.error ?? failures[0]?.error });
}
