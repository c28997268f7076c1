/**
 * `tessera serve`: runs one node of a cluster until SIGTERM or SIGINT, then shuts down
 * gracefully (stop accepting, close clients, close the node, close the network) and exits 0.
 * Logs are JSON lines on stderr. Exit codes: 0 after a signal, 1 on a failure (start, or the
 * node stopping on its own), 2 on bad usage.
 *
 *   tessera serve --id 1 --listen 127.0.0.1:7001 --peers 2=127.0.0.1:7002,3=127.0.0.1:7003 \
 *                 --dir ./n1 --secret-file s [--cluster-id tessera] [--tls-cert c --tls-key k --tls-ca ca]
 *   tessera serve --config n1.json
 */
import { parseArgs } from 'node:util';
import { Server } from '../cluster/server.ts';
import { jsonLinesLogger } from '../cluster/server-log.ts';
import { isTesseraError } from '../errors.ts';
import { messageOf, withoutCode } from './error-text.ts';
import { resolveServeConfig, type ServeConfig } from './serve-config.ts';
import { readSecretFile } from './secret.ts';
import { readTlsFiles } from './tls-files.ts';
import type { TcpTlsOptions } from '../net/tcp/tls.ts';

const USAGE = `usage: tessera serve --id N --listen HOST:PORT --dir DIR --secret-file FILE [options]
       tessera serve --config FILE.json [options]
options:
  --id N                  this node's id (a positive integer, unique in the cluster)
  --listen HOST:PORT      the address peers and clients connect to (port 0: any free port)
  --advertise HOST:PORT   the address to tell clients, if not --listen (e.g. listening on 0.0.0.0)
  --peers ID=HOST:PORT,.. the other nodes; this one may be listed too (the same list on every node)
  --dir DIR               where the node keeps its data (created on first start)
  --secret-file FILE      the cluster secret: the file's bytes, trimmed, at least 16
  --cluster-id ID         the cluster's name (default tessera); a data dir belongs to one cluster
  --config FILE.json      the same settings as a JSON object (id, listen, advertise, peers, dir,
                          secretFile, clusterId, tickMs, electionTick, leaseDrift, logLevel,
                          tlsCert, tlsKey, tlsCa); flags win
  --tick-ms N             Raft tick (default 100); elections after 10-20 ticks
  --election-tick N       ticks before a follower campaigns (default 10)
  --lease-drift F         serve lease reads, trusting clocks to drift apart by at most F
                          (a fraction, e.g. 0.05); off by default: 'lease' reads are refused
  --log-level LEVEL       debug, info (default), warn or error
  --tls-cert FILE         TLS on the port and to peers: this node's certificate (PEM)
  --tls-key FILE          its private key (PEM)
  --tls-ca FILE           the CA every peer's and client's certificate must chain to (PEM);
                          the three go together; with them nothing is accepted in clear text`;

/** Bad usage: one line and the usage text on stderr, exit 2 (never a stack trace). */
function usageError(e: unknown): never {
  console.error(`tessera serve: ${withoutCode(e)}\n\n${USAGE}`);
  process.exit(2);
}

let parsed: ReturnType<typeof parseFlags>;
try {
  parsed = parseFlags();
} catch (e) {
  usageError(e);
}
const flags = parsed.values;

function parseFlags() {
  return parseArgs({
    options: {
      config: { type: 'string' },
      id: { type: 'string' },
      listen: { type: 'string' },
      advertise: { type: 'string' },
      peers: { type: 'string' },
      dir: { type: 'string' },
      'secret-file': { type: 'string' },
      'cluster-id': { type: 'string' },
      'tick-ms': { type: 'string' },
      'election-tick': { type: 'string' },
      'lease-drift': { type: 'string' },
      'log-level': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
}

if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

let config: ServeConfig;
let secret: Uint8Array;
let tls: TcpTlsOptions | undefined;
try {
  config = resolveServeConfig({
    config: flags.config,
    id: flags.id,
    listen: flags.listen,
    advertise: flags.advertise,
    peers: flags.peers,
    dir: flags.dir,
    secretFile: flags['secret-file'],
    clusterId: flags['cluster-id'],
    tickMs: flags['tick-ms'],
    electionTick: flags['election-tick'],
    leaseDrift: flags['lease-drift'],
    logLevel: flags['log-level'],
    tlsCert: flags['tls-cert'],
    tlsKey: flags['tls-key'],
    tlsCa: flags['tls-ca'],
  });
  secret = readSecretFile(config.secretFile);
  tls = config.tls && readTlsFiles(config.tls);
} catch (e) {
  usageError(e);
}

const log = jsonLinesLogger({ level: config.logLevel });
let server: Server | null = null;
let stopping: { reason: string; code: number } | null = null;

/** Idempotent; a second signal while stopping exits at once (the operator insists). */
async function stop(reason: string, code: number): Promise<void> {
  if (stopping !== null) {
    if (reason.startsWith('SIG')) {
      log('warn', 'second signal: exiting without waiting', { signal: reason });
      process.exit(1);
    }
    return;
  }
  stopping = { reason, code };
  log('info', 'shutting down', { reason });
  if (server === null) return; // still starting: finished once the start returns
  let exitCode = code;
  try {
    await server.close();
  } catch {
    exitCode = 1; // logged by close()
  }
  process.exit(exitCode);
}

process.on('SIGTERM', () => void stop('SIGTERM', 0));
process.on('SIGINT', () => void stop('SIGINT', 0));

try {
  server = await Server.start({
    id: config.id,
    dir: config.dir,
    clusterId: config.clusterId,
    secret,
    listen: config.listen,
    ...(config.advertise && { advertise: config.advertise }),
    peers: config.peers,
    ...(config.tickMs !== undefined && { tickMs: config.tickMs }),
    ...(config.electionTick !== undefined && { electionTick: config.electionTick }),
    ...(config.leaseDrift !== undefined && { leaseReads: { maxClockDrift: config.leaseDrift } }),
    ...(tls && { tls }),
    log,
    onFatal: () => void stop('node failure', 1),
  });
} catch (e) {
  log('error', 'failed to start', { error: e });
  // Options the config checks could not see (Raft's, say) are still bad usage.
  if (isTesseraError(e, 'INVALID_ARGUMENT')) usageError(e);
  console.error(`tessera serve: ${messageOf(e)}`);
  process.exit(1);
}
const requested = stopping as { reason: string; code: number } | null;
if (requested !== null) {
  stopping = null;
  await stop(requested.reason, requested.code);
}
