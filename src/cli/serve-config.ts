/**
 * The settings of `tessera serve`, from flags and/or a JSON config file with the same fields
 * (flags win). Pure: it reads no file but the config, so it can be tested on its own.
 *
 *   {"id": 1, "listen": "127.0.0.1:7001", "peers": "2=127.0.0.1:7002,3=127.0.0.1:7003",
 *    "dir": "./n1", "secretFile": "s", "clusterId": "tessera"}
 *
 * `peers` may also be {"2": "127.0.0.1:7002"} or ["2=127.0.0.1:7002"]. Relative paths in a config
 * file are relative to the file. Unknown fields are refused, so a typo is not silently ignored.
 * TLS: "tlsCert", "tlsKey", "tlsCa" (PEM files), all three or none (tls-files.ts), from flags or
 * the file alike; the files themselves are read by readTlsFiles, as the secret by readSecretFile.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TesseraError } from '../errors.ts';
import { isLogLevel, type LogLevel } from '../cluster/server-log.ts';
import { parseAddress, parseAddressList, parseNamedAddress } from '../net/tcp/address.ts';
import { DEFAULT_CLUSTER_ID } from '../net/tcp/client-protocol.ts';
import type { PeerAddress } from '../net/tcp/tls.ts';
import type { NodeId } from '../raft/types.ts';
import { tlsPaths, type TlsPaths } from './tls-files.ts';

export interface ServeConfig {
  readonly id: NodeId;
  readonly listen: PeerAddress;
  readonly advertise: PeerAddress | undefined;
  readonly peers: Map<NodeId, PeerAddress>;
  readonly dir: string;
  readonly secretFile: string;
  readonly clusterId: string;
  readonly tickMs: number | undefined;
  readonly electionTick: number | undefined;
  /** Lease reads with this bound on relative clock drift between nodes; undefined: off. */
  readonly leaseDrift: number | undefined;
  readonly logLevel: LogLevel;
  /** Mutual TLS on the node's port and to its peers; undefined: clear text. */
  readonly tls: TlsPaths | undefined;
}

/** Flags as parsed (strings), by their config-file names. */
export interface ServeFlags {
  readonly config?: string | undefined;
  readonly id?: string | undefined;
  readonly listen?: string | undefined;
  readonly advertise?: string | undefined;
  readonly peers?: string | undefined;
  readonly dir?: string | undefined;
  readonly secretFile?: string | undefined;
  readonly clusterId?: string | undefined;
  readonly tickMs?: string | undefined;
  readonly electionTick?: string | undefined;
  readonly leaseDrift?: string | undefined;
  readonly logLevel?: string | undefined;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  readonly tlsCa?: string | undefined;
}

const FIELDS = ['id', 'listen', 'advertise', 'peers', 'dir', 'secretFile', 'clusterId', 'tickMs', 'electionTick', 'leaseDrift', 'logLevel', 'tlsCert', 'tlsKey', 'tlsCa'] as const;
/** Config fields that hold paths, resolved against the config file's directory. */
const PATH_FIELDS = ['dir', 'secretFile', 'tlsCert', 'tlsKey', 'tlsCa'] as const;
/** Beyond this, a lease would be shorter than a tick or two at the default election timeout. */
export const MAX_LEASE_DRIFT = 0.2;
type Field = (typeof FIELDS)[number];

const bad = (what: string) => new TesseraError('INVALID_ARGUMENT', what);

export function resolveServeConfig(flags: ServeFlags): ServeConfig {
  const file = flags.config === undefined ? {} : readConfigFile(flags.config);
  const pick = (f: Field): unknown => (flags[f] !== undefined ? flags[f] : file[f]);
  const required = (f: Field): unknown => {
    const v = pick(f);
    if (v === undefined || v === null || v === '') throw bad(`--${kebab(f)} is required (or "${f}" in --config)`);
    return v;
  };
  const id = positiveInt(required('id'), 'id');
  const peers = parsePeers(pick('peers'));
  const logLevel = String(pick('logLevel') ?? 'info');
  if (!isLogLevel(logLevel)) throw bad(`--log-level must be debug, info, warn or error, got ${JSON.stringify(logLevel)}`);
  const advertise = pick('advertise');
  const tickMs = pick('tickMs');
  const electionTick = pick('electionTick');
  const leaseDrift = pick('leaseDrift');
  const tlsNames = { cert: flagOrField('tlsCert'), key: flagOrField('tlsKey'), ca: flagOrField('tlsCa') };
  const tls = tlsPaths({ cert: pick('tlsCert'), key: pick('tlsKey'), ca: pick('tlsCa') }, tlsNames);
  return {
    id,
    listen: parseAddress(String(required('listen')), { allowPortZero: true }),
    advertise: advertise === undefined ? undefined : parseAddress(String(advertise)),
    peers,
    dir: String(required('dir')),
    secretFile: String(required('secretFile')),
    clusterId: String(pick('clusterId') ?? DEFAULT_CLUSTER_ID),
    tickMs: tickMs === undefined ? undefined : positiveInt(tickMs, 'tickMs'),
    electionTick: electionTick === undefined ? undefined : positiveInt(electionTick, 'electionTick'),
    leaseDrift: leaseDrift === undefined ? undefined : driftBound(leaseDrift),
    logLevel,
    tls,
  };
}

function driftBound(v: unknown): number {
  const n = Number(v);
  if (!(Number.isFinite(n) && n >= 0 && n <= MAX_LEASE_DRIFT)) throw bad(`--lease-drift must be a number in 0..${MAX_LEASE_DRIFT}, got ${JSON.stringify(v)}`);
  return n;
}

function readConfigFile(file: string): Partial<Record<Field, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw bad(`cannot read the config file ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(`config file ${file}: expected a JSON object`);
  const out: Partial<Record<Field, unknown>> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!(FIELDS as readonly string[]).includes(k)) throw bad(`config file ${file}: unknown field ${JSON.stringify(k)} (fields: ${FIELDS.join(', ')})`);
    out[k as Field] = v;
  }
  // Paths in the file are the file's: the server may be started from anywhere.
  const base = path.dirname(path.resolve(file));
  for (const f of PATH_FIELDS) if (typeof out[f] === 'string') out[f] = path.resolve(base, out[f] as string);
  return out;
}

function parsePeers(v: unknown): Map<NodeId, PeerAddress> {
  const peers = new Map<NodeId, PeerAddress>();
  const add = (id: NodeId | undefined, address: PeerAddress, text: string) => {
    if (id === undefined) throw bad(`peer ${JSON.stringify(text)} needs an id: id=host:port`);
    if (peers.has(id)) throw bad(`peer ${id} is listed twice`);
    peers.set(id, address);
  };
  if (v === undefined || v === null || v === '') return peers;
  if (typeof v === 'string') for (const p of parseAddressList(v)) add(p.id, p.address, v);
  else if (Array.isArray(v)) for (const item of v) add(...named(String(item)));
  else if (typeof v === 'object') for (const [id, a] of Object.entries(v)) add(positiveInt(id, 'peer id'), parseAddress(String(a)), `${id}=${String(a)}`);
  else throw bad('peers: expected "id=host:port,...", a list of them, or {"id": "host:port"}');
  return peers;
}

function named(text: string): [NodeId | undefined, PeerAddress, string] {
  const n = parseNamedAddress(text);
  return [n.id, n.address, text];
}

function positiveInt(v: unknown, what: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw bad(`${what} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

function flagOrField(f: Field): string {
  return `--${kebab(f)} ("${f}")`;
}

function kebab(f: string): string {
  return f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
