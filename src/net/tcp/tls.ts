/**
 * Sockets with or without TLS. With TLS both sides present a certificate from the cluster's CA
 * and verify the other's (mutual TLS, TLS 1.2 or later); the dialler also checks the server's
 * name against the address it dialled. The HMAC handshake still runs inside: TLS proves "has a
 * certificate from our CA", the handshake proves "knows this cluster's secret, is node N".
 */
import net from 'node:net';
import tls from 'node:tls';

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
 * to `onStream`. `onRaw` sees every accepted TCP socket first (to track it for close()).
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
  server.on('tlsClientError', onTlsError);
  return server;
}

function credentials(o: TcpTlsOptions): { cert: string | Buffer; key: string | Buffer; ca: (string | Buffer)[] } {
  const pem = (v: string | Uint8Array) => (typeof v === 'string' ? v : Buffer.from(v));
  const cas = Array.isArray(o.ca) ? (o.ca as readonly (string | Uint8Array)[]) : [o.ca as string | Uint8Array];
  return { cert: pem(o.cert), key: pem(o.key), ca: cas.map(pem) };
}
