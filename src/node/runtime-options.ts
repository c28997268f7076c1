/**
 * The checks of a node's timing and snapshot-transfer options, run before anything is opened:
 * RaftNode runs them, and Cluster.start and Node.open run them first, so that bad options
 * create no directory. Each bound is a named limit (limits.ts).
 */
import { TesseraError } from '../errors.ts';
import { MAX_SNAPSHOT_CHUNK_BYTES, MAX_SNAPSHOT_WINDOW } from '../limits.ts';
import { checkDurationMs } from '../util/duration.ts';

export interface RuntimeOptions {
  readonly tickMs?: number | undefined;
  readonly requestTimeoutMs?: number | undefined;
  readonly snapshotEvery?: number | undefined;
  readonly snapshotChunkBytes?: number | undefined;
  readonly snapshotWindow?: number | undefined;
}

/** INVALID_ARGUMENT for the first option out of its range; an omitted option takes its default. */
export function checkRuntimeOptions(o: RuntimeOptions): void {
  if (o.tickMs !== undefined) checkDurationMs('tickMs', o.tickMs);
  if (o.requestTimeoutMs !== undefined) checkDurationMs('requestTimeoutMs', o.requestTimeoutMs);
  checkInteger('snapshotEvery', o.snapshotEvery, Number.MAX_SAFE_INTEGER);
  checkInteger('snapshotChunkBytes', o.snapshotChunkBytes, MAX_SNAPSHOT_CHUNK_BYTES);
  checkInteger('snapshotWindow', o.snapshotWindow, MAX_SNAPSHOT_WINDOW);
}

function checkInteger(what: string, n: number | undefined, max: number): void {
  if (n === undefined) return;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new TesseraError('INVALID_ARGUMENT', `${what} must be an integer in 1..${max}, got ${String(n)}`);
}
