/**
 * A TF.js weight group is one logical byte string cut into shard files (`paths`, in order); weights
 * may straddle shard boundaries. This reads that byte string front to back, one weight at a time,
 * with one shard file open at a time, so memory stays at one weight however large the group is.
 */
import fs from 'node:fs/promises';
import { TesseraError } from '../errors.ts';
import { resolveShardPath } from './tfjs-paths.ts';

/** Largest single read call; Node refuses reads above 2 GiB - 1 and smaller calls bound latency spikes. */
const READ_CALL_BYTES = 64 * 1024 * 1024;

export interface ShardFile {
  /** As written in the manifest, for error messages. */
  readonly shardPath: string;
  readonly file: string;
  readonly size: number;
}

/** Stats every shard of a group: a missing or non-regular file is a format error naming it. */
export async function statShards(manifestFile: string, paths: readonly string[], groupIndex: number): Promise<ShardFile[]> {
  const out: ShardFile[] = [];
  for (const shardPath of paths) {
    const file = resolveShardPath(manifestFile, shardPath);
    const stat = await fs.stat(file).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') {
        throw new TesseraError('INVALID_FORMAT', `${manifestFile}: group ${groupIndex}: shard file ${shardPath} is missing (${file})`, { cause: e });
      }
      throw e;
    });
    if (!stat.isFile()) {
      throw new TesseraError('INVALID_FORMAT', `${manifestFile}: group ${groupIndex}: shard ${shardPath} is not a regular file (${file})`);
    }
    out.push({ shardPath, file, size: stat.size });
  }
  return out;
}

export class ShardReader {
  private index = 0;
  private offset = 0;
  private handle: fs.FileHandle | undefined;

  /** `context` prefixes error messages (manifest file and group). */
  constructor(
    private readonly shards: readonly ShardFile[],
    private readonly context: string,
  ) {}

  /** The next `n` bytes of the group. `what` names the weight being read, for error messages. */
  async read(n: number, what: string): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const shard = this.shards[this.index];
      if (shard === undefined) {
        // statShards + the size check before reading make this a file that shrank under us.
        throw new TesseraError('INVALID_FORMAT', `${this.context}: ${what}: shards ended ${n - filled} bytes early`);
      }
      if (this.offset === shard.size) {
        await this.nextShard(shard);
        continue;
      }
      this.handle ??= await fs.open(shard.file, 'r');
      const want = Math.min(n - filled, shard.size - this.offset, READ_CALL_BYTES);
      const { bytesRead } = await this.handle.read(out, filled, want, this.offset);
      if (bytesRead === 0) {
        throw new TesseraError('INVALID_FORMAT', `${this.context}: ${what}: shard ${shard.shardPath} ended at byte ${this.offset}, before its size ${shard.size} (changed while reading?)`);
      }
      filled += bytesRead;
      this.offset += bytesRead;
    }
    return out;
  }

  /** After the last weight: every byte must have been consumed, and no shard may have grown. */
  async finish(): Promise<void> {
    while (this.index < this.shards.length) {
      const shard = this.shards[this.index]!;
      if (this.offset !== shard.size) {
        throw new TesseraError('INVALID_FORMAT', `${this.context}: shard ${shard.shardPath}: ${shard.size - this.offset} trailing bytes after the last weight`);
      }
      await this.nextShard(shard);
    }
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }

  private async nextShard(shard: ShardFile): Promise<void> {
    // A shard that grew since it was stat'ed would otherwise hide bytes the manifest does not account for.
    this.handle ??= await fs.open(shard.file, 'r');
    const probe = new Uint8Array(1);
    const { bytesRead } = await this.handle.read(probe, 0, 1, shard.size);
    await this.close();
    if (bytesRead !== 0) {
      throw new TesseraError('INVALID_FORMAT', `${this.context}: shard ${shard.shardPath}: grew past its size ${shard.size} while reading`);
    }
    this.index++;
    this.offset = 0;
  }
}
