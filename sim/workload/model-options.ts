/**
 * Knobs and counters of the model workload (model-workload.ts). The counters are what a run
 * reports, so a sweep can show its saves were really cut off and its loads really checked.
 */
import { DEFAULT_WORKLOAD } from './kv-workload.ts';
import type { SaveShape } from './model-saves.ts';
import type { RpcTimings } from './sim-rpc.ts';

export type Range = { readonly min: number; readonly max: number };

export interface ModelWorkloadOptions extends RpcTimings {
  readonly writers: number;
  readonly readers: number;
  readonly janitors: number;
  /** Models saved to (m0, m1, ...). */
  readonly models: number;
  readonly shape: SaveShape;
  /** Chance that a save's writer is killed (before one of its puts, or right after sending its commit). */
  readonly killChance: number;
  /** Chance that a writer commits after only part of its puts and learns the rest from missing_chunks. */
  readonly speculativeCommitChance: number;
  readonly writerThinkMs: Range;
  readonly readerThinkMs: Range;
  readonly janitorThinkMs: Range;
  /** Pause between a reader's chunk reads (ms): a slow consumer widens the race with deletes and gc. */
  readonly chunkGapMs: Range;
}

export const DEFAULT_MODEL_WORKLOAD: ModelWorkloadOptions = {
  writers: 3,
  readers: 3,
  janitors: 1,
  models: 2,
  // 2..3 tensors of 2..6 chunks: 4..18 chunk puts per save.
  shape: { tensors: { min: 2, max: 3 }, chunksPerTensor: { min: 2, max: 6 }, chunkBytes: 32 },
  killChance: 0.15,
  speculativeCommitChance: 0.2,
  writerThinkMs: { min: 0, max: 500 },
  readerThinkMs: { min: 0, max: 300 },
  janitorThinkMs: { min: 200, max: 1500 },
  chunkGapMs: { min: 0, max: 40 },
  attemptTimeoutMs: DEFAULT_WORKLOAD.attemptTimeoutMs,
  opTimeoutMs: DEFAULT_WORKLOAD.opTimeoutMs,
  clientDelayMs: DEFAULT_WORKLOAD.clientDelayMs,
};

export interface ModelWorkloadStats {
  savesStarted: number;
  savesCommitted: number;
  /** The writer was killed mid-save. */
  savesKilled: number;
  /** A put or the commit ran out of time (leader crash, partition): the save stopped there. */
  savesInterrupted: number;
  /** Of the interrupted saves, those whose commit was sent: it may or may not have applied. */
  commitsUnknown: number;
  savesGaveUp: number;
  /** Saves (whatever their end) during which a new leader was elected: a leader change mid-save. */
  savesAcrossElections: number;
  missingChunkRounds: number;
  /** Loads that read a whole version and checked it. */
  loadsChecked: number;
  /** Loads of a version deleted while it was loading (allowed). */
  loadsDeleted: number;
  loadsEmpty: number;
  loadsFailed: number;
  chunkReads: number;
  /** Chunk reads at a node that had not applied the version's commit yet (retried elsewhere). */
  chunkReadsNotApplied: number;
  deletes: number;
  gcs: number;
  chunksCollected: number;
  /** Versions checked in the final scan of every node. */
  versionsScanned: number;
}

export function emptyStats(): ModelWorkloadStats {
  return {
    savesStarted: 0, savesCommitted: 0, savesKilled: 0, savesInterrupted: 0, commitsUnknown: 0, savesGaveUp: 0, savesAcrossElections: 0,
    missingChunkRounds: 0, loadsChecked: 0, loadsDeleted: 0, loadsEmpty: 0, loadsFailed: 0, chunkReads: 0, chunkReadsNotApplied: 0,
    deletes: 0, gcs: 0, chunksCollected: 0, versionsScanned: 0,
  };
}
