/**
 * `tessera put|get|del|range|watch|status` against running servers (`tessera serve`), through
 * the remote client (connect()): leader discovery, retries and exactly-once writes included.
 *
 *   tessera put KEY VALUE   (VALUE - reads stdin)        tessera get KEY
 *   tessera del KEY                                       tessera range [PREFIX] [--end KEY] [--limit N]
 *   tessera watch [PREFIX] [--exact] [--from-revision N]  tessera status [--json]
 *   common: --endpoints HOST:PORT,... --secret-file FILE [--cluster-id ID] [--timeout-ms N]
 *           [--tls-ca F --tls-cert F --tls-key F]
 *           (or TESSERA_ENDPOINTS, TESSERA_SECRET_FILE, TESSERA_CLUSTER_ID, TESSERA_TLS_CA, ...)
 *
 * Exit codes: 0 ok; 1 a failure (or `get` of an absent key, `status` without a leader); 2 bad usage.
 */
import { parseArgs } from 'node:util';
import { connect } from '../client/connect.ts';
import type { RemoteClient } from '../client/remote-client.ts';
import type { Consistency } from '../client/types.ts';
import { isTesseraError } from '../errors.ts';
import { DEFAULT_CLUSTER_ID } from '../net/tcp/client-protocol.ts';
import { messageOf } from './error-text.ts';
import { readSecretFile } from './secret.ts';
import { readTlsFiles, tlsPaths } from './tls-files.ts';
import { formatStatus, summarize } from './status-table.ts';

export type KvCommand = 'put' | 'get' | 'del' | 'range' | 'watch' | 'status';

/** How long `status` waits for connections to every member before asking them. */
const STATUS_CONNECT_WAIT_MS = 1_000;

const USAGE = `usage: tessera <command> [args] --endpoints HOST:PORT,... --secret-file FILE [options]
commands:
  put KEY VALUE         write VALUE (- reads it from stdin)
  get KEY               print the value (exit 1 if absent)
  del KEY               delete the key
  range [PREFIX]        print KEY<TAB>VALUE lines of keys starting with PREFIX (all if omitted)
                        --end KEY (exclusive end instead of a prefix)  --limit N  --keys-only
  watch [PREFIX]        print changes as JSON lines until interrupted
                        --exact (only KEY itself)  --from-revision N
  status                members, leader, term, and per node commit/applied index and lag
                        --json (the raw reports)
options:
  --endpoints LIST      node addresses, host:port or id=host:port (env TESSERA_ENDPOINTS)
  --secret-file FILE    the cluster secret (env TESSERA_SECRET_FILE)
  --cluster-id ID       default ${DEFAULT_CLUSTER_ID} (env TESSERA_CLUSTER_ID)
  --tls-ca FILE         nodes run with TLS: the CA their certificates chain to (PEM)
  --tls-cert FILE       this client's certificate from that CA (PEM; nodes require one)
  --tls-key FILE        its private key (PEM); the three go together
                        (env TESSERA_TLS_CA, TESSERA_TLS_CERT, TESSERA_TLS_KEY)
  --timeout-ms N        per operation (default 15000)
  --consistency C       reads: linearizable (default), lease or local`;

/** The positional arguments each command requires. */
const ARGS: Readonly<Record<KvCommand, readonly string[]>> = { put: ['KEY', 'VALUE'], get: ['KEY'], del: ['KEY'], range: [], watch: [], status: [] };
/** The most it takes: one more would be dropped (`put k hello world` would store "hello"). */
const MAX_ARGS: Readonly<Record<KvCommand, number>> = { put: 2, get: 1, del: 1, range: 1, watch: 1, status: 0 };

class UsageError extends Error {}

export async function run(command: KvCommand): Promise<void> {
  let code: number;
  try {
    code = await main(command);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`tessera ${command}: ${e.message}\n\n${USAGE}`);
      code = 2;
    } else {
      console.error(`tessera ${command}: ${messageOf(e)}`);
      code = isTesseraError(e, 'INVALID_ARGUMENT') ? 2 : 1;
    }
  }
  process.exit(code);
}

async function main(command: KvCommand): Promise<number> {
  const { values: o, positionals } = usage(() =>
    parseArgs({
      allowPositionals: true,
      strict: true,
      options: {
        endpoints: { type: 'string' },
        'secret-file': { type: 'string' },
        'cluster-id': { type: 'string' },
        'tls-ca': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'timeout-ms': { type: 'string' },
        consistency: { type: 'string' },
        end: { type: 'string' },
        limit: { type: 'string' },
        'keys-only': { type: 'boolean', default: false },
        exact: { type: 'boolean', default: false },
        'from-revision': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }),
  );
  if (o.help) {
    console.log(USAGE);
    return 0;
  }
  const endpoints = o.endpoints ?? process.env.TESSERA_ENDPOINTS;
  const secretFile = o['secret-file'] ?? process.env.TESSERA_SECRET_FILE;
  if (!endpoints) throw new UsageError('--endpoints is required');
  if (!secretFile) throw new UsageError('--secret-file is required');
  const arg = (i: number, what: string): string => {
    const v = positionals[i];
    if (v === undefined) throw new UsageError(`missing ${what}`);
    return v;
  };
  ARGS[command].forEach((what, i) => arg(i, what)); // before connecting: a usage error costs nothing
  if (positionals.length > MAX_ARGS[command]) {
    const extra = JSON.stringify(positionals[MAX_ARGS[command]]);
    throw new UsageError(`unexpected argument ${extra}${command === 'put' ? ' (quote a VALUE that has spaces)' : ''}`);
  }
  const timeoutMs = optionalInt(o['timeout-ms'], '--timeout-ms');
  const consistency = o.consistency as Consistency | undefined;
  const tls = tlsPaths({
    ca: o['tls-ca'] ?? process.env.TESSERA_TLS_CA,
    cert: o['tls-cert'] ?? process.env.TESSERA_TLS_CERT,
    key: o['tls-key'] ?? process.env.TESSERA_TLS_KEY,
  });
  const kv = await connect({
    endpoints: endpoints.split(',').filter((s) => s.trim().length > 0),
    secret: readSecretFile(secretFile),
    ...(tls && { tls: readTlsFiles(tls) }),
    clusterId: o['cluster-id'] ?? process.env.TESSERA_CLUSTER_ID ?? DEFAULT_CLUSTER_ID,
    ...(timeoutMs !== undefined && { timeoutMs }),
    ...(consistency !== undefined && { consistency }),
  });
  try {
    switch (command) {
      case 'put': {
        const key = arg(0, 'KEY');
        const text = arg(1, 'VALUE');
        const value = text === '-' ? await readStdin() : text;
        const res = await kv.put(key, value);
        console.log(`OK revision ${res.revision}`);
        return 0;
      }
      case 'get': {
        const entry = await kv.get(arg(0, 'KEY'));
        if (entry === null) {
          console.error(`tessera get: ${positionals[0]} not found`);
          return 1;
        }
        process.stdout.write(entry.value);
        process.stdout.write('\n');
        return 0;
      }
      case 'del': {
        const res = await kv.delete(arg(0, 'KEY'));
        console.log(`${res.deleted ? 'deleted' : 'absent'} revision ${res.revision}`);
        return 0;
      }
      case 'range': {
        const limit = optionalInt(o.limit, '--limit');
        const text = new TextDecoder();
        for await (const e of kv.range(positionals[0] ?? '', { ...(o.end !== undefined && { end: o.end }), ...(limit !== undefined && { limit }) })) {
          console.log(o['keys-only'] ? text.decode(e.key) : `${text.decode(e.key)}\t${text.decode(e.value)}`);
        }
        return 0;
      }
      case 'watch':
        return await watch(kv, positionals[0] ?? '', o.exact ?? false, optionalInt(o['from-revision'], '--from-revision'));
      case 'status':
        return await status(kv, o.json ?? false);
    }
  } finally {
    await kv.close();
  }
}

async function watch(kv: RemoteClient, prefix: string, exact: boolean, fromRevision: number | undefined): Promise<number> {
  const w = kv.watch(prefix, { exact, ...(fromRevision !== undefined && { fromRevision }) });
  const stop = () => w.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const text = new TextDecoder();
  for await (const e of w) {
    console.log(JSON.stringify({ type: e.type, key: text.decode(e.key), value: text.decode(e.value), revision: e.revision }));
  }
  return 0;
}

async function status(kv: RemoteClient, json: boolean): Promise<number> {
  const end = Date.now() + STATUS_CONNECT_WAIT_MS;
  while (kv.remotes.some((r) => !r.isUp()) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  const results = await kv.nodeStatus();
  const summary = summarize(results);
  if (json) console.log(JSON.stringify({ summary, nodes: results.map((r) => ({ ...r, error: r.error?.message ?? null })) }, null, 2));
  else console.log(formatStatus(summary));
  return summary.leader === 0 ? 1 : 0;
}

/** parseArgs' own errors (an unknown option, a missing value) are usage errors: exit 2. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function optionalInt(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new UsageError(`${what} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

async function readStdin(): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const chunk of process.stdin) parts.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(parts));
}
