/**
 * Sockets with or without TLS. With TLS both sides present a certificate from the cluster's CA
 * and verify the other's (mutual TLS, TLS 1.2 or later); the dialler also checks the server's
 * name against the address it dialled. The HMAC handshake still runs inside: TLS proves "has a
 * certificate from our CA", the handshake proves "knows this cluster's secret, is node N".
 *
 * The same options serve a node's peers and its remote clients (a node's one port takes both,
 * and TLS comes before the first frame that says which is calling, so every caller, client or
 * peer, must present a certificate from the CA).
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { TesseraError } from '../../errors.ts';

export interface TcpTlsOptions {
  /** This node's certificate chain (PEM), used as server and as client certificate. */
  readonly cert: string | Uint8Array;
  /** Its private key (PEM). */
  readonly key: string | Uint8Array;
  /** The CA(s) that peers' certificates must chain to (PEM); replaces the system roots. */
  readonly ca: string | Uint8Array | readonly (string | Uint8Array)[];
}

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface Dialled {
  readonly socket: net.Socket;
  /** The event after which the stream is ready for the handshake. */
  readonly readyEvent: 'connect' | 'secureConnect';
}

export function dial(address: PeerAddress, options: TcpTlsOptions | undefined): Dialled {
  if (options === undefined) return { socket: net.connect({ host: address.host, port: address.port }), readyEvent: 'connect' };
  const socket = tls.connect({
    host: address.host,
    port: address.port,
    ...credentials(options),
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
    // An IP address cannot be sent as SNI; the certificate is then checked against the IP.
    ...(net.isIP(address.host) === 0 && { servername: address.host }),
  });
  return { socket, readyEvent: 'secureConnect' };
}

/**
 * A listening-ready server that hands every connection, once its TLS handshake (if any) is done,
 * to `onStream`. `onRaw` sees every accepted TCP socket first (to track it for close()). A
 * failed TLS handshake goes to `onTlsError`, after which the socket is destroyed.
 */
export function createServer(
  options: TcpTlsOptions | undefined,
  handshakeTimeoutMs: number,
  onRaw: (socket: net.Socket) => void,
  onStream: (socket: net.Socket) => void,
  onTlsError: (error: Error, socket: net.Socket) => void,
): net.Server {
  if (options === undefined) {
    const server = net.createServer();
    server.on('connection', (s) => {
      onRaw(s);
      onStream(s);
    });
    return server;
  }
  const server = tls.createServer({
    ...credentials(options),
    minVersion: 'TLSv1.2',
    requestCert: true,
    rejectUnauthorized: true,
    handshakeTimeout: handshakeTimeoutMs,
  });
  server.on('connection', onRaw);
  server.on('secureConnection', onStream);
  server.on('tlsClientError', (error, socket) => {
    onTlsError(error, socket);
    // Node leaves the socket open after some failures (the handshake timeout among them) when
    // this event has a listener: a caller that never speaks would keep it forever.
    socket.destroy();
  });
  return server;
}

/**
 * Throws INVALID_ARGUMENT unless the options make a usable TLS context (PEM that parses, a key
 * that matches its certificate, at least one CA): checked up front, so a bad file fails the
 * start or connect() with its reason instead of every later dial.
 */
export function checkTlsOptions(o: TcpTlsOptions, what = 'tls'): void {
  // Callers without types may leave one out; Node's own error would not say which.
  for (const field of ['cert', 'key', 'ca'] as const) {
    if (o[field] === undefined || o[field] === null) throw new TesseraError('INVALID_ARGUMENT', `${what}: ${field} is required (mutual TLS: a certificate, its key, and the CA)`);
  }
  const c = credentials(o);
  if (c.ca.length === 0) throw new TesseraError('INVALID_ARGUMENT', `${what}: at least one CA certificate is required`);
  try {
    tls.createSecureContext({ ...c, minVersion: 'TLSv1.2' });
  } catch (e) {
    throw new TesseraError('INVALID_ARGUMENT', `${what}: unusable certificate, key or CA: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  // Node skips what is not a certificate in `ca` without a word, leaving nothing to trust.
  for (const ca of c.ca) {
    try {
      new X509Certificate(ca);
    } catch (e) {
      throw new TesseraError('INVALID_ARGUMENT', `${what}: the CA is not a PEM certificate: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
}

/**
 * What to log when an inbound TLS handshake failed (the socket may already be destroyed, and
 * then it has forgotten its address): under which name, and why. A rejected client certificate surfaces as a hang-up; its
 * verification error says why.
 */
export function inboundTlsFailure(error: Error, socket: net.Socket): { readonly remote: string; readonly error: TesseraError } {
  // OpenSSL's own reason ('wrong version number') rather than its whole error string.
  const reason = (error as { reason?: unknown }).reason;
  const refused = (socket as tls.TLSSocket).authorizationError;
  const why = refused ? `its certificate was refused: ${refused.toString()}` : typeof reason === 'string' ? clearTextHint(reason) : error.message;
  // A caller that said nothing (or too little) in time proved nothing either way.
  const code = (error as NodeJS.ErrnoException).code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'TIMEOUT' : 'AUTH_FAILED';
  // The address is gone once Node has destroyed the socket; all such callers share one log key.
  return { remote: socket.remoteAddress ?? 'unidentified TLS client', error: new TesseraError(code, `TLS handshake failed: ${why}`, { cause: error }) };
}

/** A TLS record header: content type handshake (22), then protocol version major 3. */
const TLS_HANDSHAKE_RECORD = 0x16;
const TLS_MAJOR_VERSION = 0x03;

/**
 * Whether a connection's first bytes are a TLS ClientHello. On a clear-text port they can never
 * be a valid first frame (as a length they exceed any frame limit), so this only picks the
 * better error message: a TLS client called a node started without TLS.
 */
export function looksLikeTlsHello(first: Uint8Array): boolean {
  return first.byteLength >= 2 && first[0] === TLS_HANDSHAKE_RECORD && first[1] === TLS_MAJOR_VERSION;
}

/** A caller speaking clear text to a TLS port shows up as a record of an unknown version. */
function clearTextHint(reason: string): string {
  return reason === 'wrong version number' || reason === 'http request' ? `${reason} (a caller speaking clear text, not TLS?)` : reason;
}

function credentials(o: TcpTlsOptions): { cert: string | Buffer; key: string | Buffer; ca: (string | Buffer)[] } {
  const pem = (v: string | Uint8Array) => (typeof v === 'string' ? v : Buffer.from(v));
  const cas = Array.isArray(o.ca) ? (o.ca as readonly (string | Uint8Array)[]) : [o.ca as string | Uint8Array];
  return { cert: pem(o.cert), key: pem(o.key), ca: cas.map(pem) };
}
