/** How the commands print an error: its message on one line, never its stack. */
import { isTesseraError } from '../errors.ts';

/** An error's message (a TesseraError's starts with its code). */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** For usage errors: a TesseraError's message without its code, as the line already says what is wrong. */
export function withoutCode(e: unknown): string {
  return isTesseraError(e) ? e.message.replace(/^[A-Z_]+: /, '') : messageOf(e);
}
