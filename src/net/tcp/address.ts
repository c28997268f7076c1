/**
 * Addresses as people write them: `host:port`, `[v6]:port`, and `id=host:port` for a node of
 * known id (`--peers 2=10.0.0.2:7001,3=10.0.0.3:7001`). Parse errors are INVALID_ARGUMENT and
 * quote the text, so a typo on a command line says where it is.
 */
import { TesseraError } from '../../errors.ts';
import type { NodeId } from '../../raft/types.ts';
import type { PeerAddress } from './tls.ts';

export interface NamedAddress {
  /** undefined when the text gave no id. */
  readonly id: NodeId | undefined;
  readonly address: PeerAddress;
}

/** `host:port` or `[ipv6]:port`; port 0 only if allowed (a listen address). */
export function parseAddress(text: string, options: { readonly allowPortZero?: boolean } = {}): PeerAddress {
  const bad = (why: string) => new TesseraError('INVALID_ARGUMENT', `bad address ${JSON.stringify(text)}: ${why}`);
  const t = text.trim();
  const m = /^(?:\[([^\]]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(t);
  if (!m) throw bad('expected host:port');
  const port = Number(m[3]);
  if (port > 65535 || (port === 0 && !options.allowPortZero)) throw bad(`port ${port} out of range`);
  return { host: (m[1] ?? m[2])!, port };
}

/** `host:port` or `id=host:port`. */
export function parseNamedAddress(text: string): NamedAddress {
  const eq = text.indexOf('=');
  if (eq < 0) return { id: undefined, address: parseAddress(text) };
  const idText = text.slice(0, eq).trim();
  const id = Number(idText);
  if (!/^\d+$/.test(idText) || !Number.isSafeInteger(id) || id < 1) throw new TesseraError('INVALID_ARGUMENT', `bad node id ${JSON.stringify(idText)} in ${JSON.stringify(text)}`);
  return { id, address: parseAddress(text.slice(eq + 1)) };
}

/** A comma-separated list; empty items are skipped. */
export function parseAddressList(text: string): NamedAddress[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(parseNamedAddress);
}

export function formatAddress(a: PeerAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
