import { TesseraError } from '../errors.ts';

/**
 * Invariant assertion. Fails loudly: an invariant violation is a bug, and carrying on
 * risks serving or persisting wrong data. The simulator relies on these throwing.
 */
export function assert(condition: unknown, what: string | (() => string)): asserts condition {
  if (!condition) {
    throw new TesseraError('INVARIANT', typeof what === 'string' ? what : what());
  }
}
