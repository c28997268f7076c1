/**
 * The one check of a cluster id. The id names a cluster in its data directories and in every
 * handshake, so an in-process cluster, a node and a `tessera serve` process accept the same ids.
 */
import { TesseraError } from '../errors.ts';
import { MAX_CLUSTER_ID_BYTES } from '../limits.ts';
import { isWellFormed } from './bytes.ts';

/** INVALID_ARGUMENT unless `id` is a string of 1..MAX_CLUSTER_ID_BYTES UTF-8 bytes with no lone surrogate. */
export function checkClusterId(id: unknown): asserts id is string {
  if (typeof id !== 'string') throw new TesseraError('INVALID_ARGUMENT', `a cluster id must be a string, got ${id === null ? 'null' : typeof id}`);
  if (id.length === 0 || Buffer.byteLength(id, 'utf8') > MAX_CLUSTER_ID_BYTES) {
    throw new TesseraError('INVALID_ARGUMENT', `a cluster id must have 1 to ${MAX_CLUSTER_ID_BYTES} UTF-8 bytes`);
  }
  // Stored as UTF-8 (the log's identity record), where a lone surrogate would become U+FFFD.
  if (!isWellFormed(id)) throw new TesseraError('INVALID_ARGUMENT', 'a cluster id must be well-formed UTF-16: it has a lone surrogate');
}
