/**
 * The Client over RemoteEndpoints: the same class and API as the embedded client (tensor layer
 * included), plus what only a remote client needs: closing its connections, and asking every
 * node for its status. Built by connect() (connect.ts).
 */
import { TesseraError } from '../errors.ts';
import type { NodeStatusReport } from '../net/tcp/client-protocol.ts';
import type { PeerAddress } from '../net/tcp/tls.ts';
import type { NodeId } from '../raft/types.ts';
import { Client } from './client.ts';
import type { RemoteEndpoint } from './remote-endpoint.ts';
import type { ClientOptions } from './types.ts';

export interface NodeStatusResult {
  readonly id: NodeId;
  readonly address: PeerAddress;
  /** The node's report, or null if it could not be asked (see error). */
  readonly status: NodeStatusReport | null;
  readonly error: TesseraError | null;
}

/** How long nodeStatus() waits for each node by default. */
export const STATUS_TIMEOUT_MS = 2_000;

export class RemoteClient extends Client {
  constructor(
    readonly remotes: readonly RemoteEndpoint[],
    options: ClientOptions = {},
  ) {
    super(remotes, options);
  }

  /** Closes the client (as Client.close) and every connection. Idempotent. */
  override async close(): Promise<void> {
    await super.close();
    for (const r of this.remotes) r.close();
  }

  /**
   * Every node's own report, asked in parallel; a node down or slower than timeoutMs gets an
   * error instead. No retries: this describes the nodes as they are now.
   */
  async nodeStatus(timeoutMs: number = STATUS_TIMEOUT_MS): Promise<NodeStatusResult[]> {
    if (this.closed) throw new TesseraError('CLOSED', 'client is closed');
    return Promise.all(
      this.remotes.map(async (r): Promise<NodeStatusResult> => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TesseraError('TIMEOUT', `node ${r.id} did not report within ${timeoutMs} ms`)), timeoutMs);
        });
        try {
          return { id: r.id, address: r.address, status: await Promise.race([r.status(), late]), error: null };
        } catch (e) {
          const error = e instanceof TesseraError ? e : new TesseraError('INVARIANT', String(e), { cause: e });
          return { id: r.id, address: r.address, status: null, error };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }
}
