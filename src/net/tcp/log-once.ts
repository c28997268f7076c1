/**
 * Logs each (peer, reason) once: a misconfigured or hostile peer that reconnects every few
 * milliseconds must not flood the log. A peer's slate is wiped when it authenticates, so the
 * next distinct episode of trouble is reported again.
 */
import type { TesseraError, TesseraErrorCode } from '../../errors.ts';

export interface TcpLogEvent {
  /** `node <id>` for an authenticated or dialled peer, else the remote address. */
  readonly peer: string;
  readonly code: TesseraErrorCode;
  readonly message: string;
  readonly error: TesseraError;
}

export type TcpLog = (event: TcpLogEvent) => void;

export const defaultTcpLog: TcpLog = (e) => console.warn(`tessera tcp: ${e.peer}: ${e.message}`);

export class LogOnce {
  private readonly seen = new Set<string>();

  constructor(
    private readonly log: TcpLog,
    private readonly maxKeys: number,
  ) {}

  report(peer: string, error: TesseraError): void {
    const key = `${peer}\u0000${error.code}`;
    if (this.seen.has(key)) return;
    if (this.seen.size >= this.maxKeys) return; // a flood of distinct sources: the first ones tell the story
    this.seen.add(key);
    try {
      this.log({ peer, code: error.code, message: error.message, error });
    } catch {
      // A failing logger must not take the network down with it.
    }
  }

  forget(peer: string): void {
    for (const key of this.seen) if (key.startsWith(`${peer}\u0000`)) this.seen.delete(key);
  }
}
