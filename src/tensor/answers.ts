/** How the tensor layer turns the state machine's refusals into typed errors, and passes timeouts on. */
import { TesseraError } from '../errors.ts';
import type { KvResult } from '../store/kv-result.ts';

/** A refusal the caller did not handle itself: bad input, a missing object, or a bug. */
export function refusal(what: string, res: Exclude<KvResult, { ok: true }>): TesseraError {
  if (res.reason === 'invalid') return new TesseraError('INVALID_ARGUMENT', `${what}: ${res.message}`);
  if (res.reason === 'not_found') return new TesseraError('NOT_FOUND', `${what}: no such object`);
  return new TesseraError('INVARIANT', `${what}: unexpected answer ${res.reason}`);
}

/** Just the timeout of an options object (exactOptionalPropertyTypes: no `undefined` passed on). */
export function timeoutOnly(o: { readonly timeoutMs?: number | undefined }): { readonly timeoutMs?: number } {
  return o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs };
}
