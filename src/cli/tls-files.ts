/**
 * TLS settings of the command line (`--tls-cert F --tls-key F --tls-ca F`, for `serve` and the
 * client commands alike): all three or none, then the PEM files read and checked.
 *
 * All three because a node requires a certificate from its CA of every caller (its port is
 * shared by peers and clients, see src/net/tcp/client-server.ts), so a client needs its own
 * certificate and key as much as the CA that authenticates the node.
 */
import fs from 'node:fs';
import { TesseraError } from '../errors.ts';
import { checkTlsOptions, type TcpTlsOptions } from '../net/tcp/tls.ts';

export interface TlsPaths {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** How each setting is spelled where it came from (flags, config fields), for messages. */
export const TLS_FLAG_NAMES: Readonly<Record<keyof TlsPaths, string>> = Object.freeze({ cert: '--tls-cert', key: '--tls-key', ca: '--tls-ca' });

/** The paths if all three are given, undefined if none; INVALID_ARGUMENT naming what is missing otherwise. */
export function tlsPaths(given: { readonly [K in keyof TlsPaths]?: unknown }, names: Readonly<Record<keyof TlsPaths, string>> = TLS_FLAG_NAMES): TlsPaths | undefined {
  const fields = ['cert', 'key', 'ca'] as const;
  const present = (f: (typeof fields)[number]) => given[f] !== undefined && given[f] !== null && given[f] !== '';
  const set = fields.filter(present);
  if (set.length === 0) return undefined;
  if (set.length < fields.length) {
    const missing = fields.filter((f) => !present(f)).map((f) => names[f]);
    throw new TesseraError('INVALID_ARGUMENT', `TLS needs ${fields.map((f) => names[f]).join(', ')} together: ${missing.join(' and ')} missing`);
  }
  for (const f of fields) if (typeof given[f] !== 'string') throw new TesseraError('INVALID_ARGUMENT', `${names[f]} must be a file path, got ${JSON.stringify(given[f])}`);
  return { cert: given.cert as string, key: given.key as string, ca: given.ca as string };
}

/** Reads the three PEM files; INVALID_ARGUMENT if one is unreadable or they do not make a usable TLS setup (say, a key of another certificate). */
export function readTlsFiles(paths: TlsPaths): TcpTlsOptions {
  const read = (file: string, what: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw new TesseraError('INVALID_ARGUMENT', `cannot read the TLS ${what} ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  };
  const options: TcpTlsOptions = { cert: read(paths.cert, 'certificate'), key: read(paths.key, 'key'), ca: read(paths.ca, 'CA') };
  checkTlsOptions(options, `TLS files ${paths.cert}, ${paths.key}, ${paths.ca}`);
  return options;
}
