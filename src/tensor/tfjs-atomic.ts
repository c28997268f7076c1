/**
 * Durable, crash-safe replacement of a set of files: each is written to a temp file in the target
 * directory and fsynced ("staged"); publishing renames them into place and fsyncs the directory.
 * Renames within one directory are atomic, so every final name holds either its old or its complete
 * new content, never a torn mix.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

/** Distinguishes temp files of concurrent exports in one process; the pid covers other processes. */
let stageSequence = 0;

export class StagedFile {
  private handle: fs.FileHandle | undefined;

  private constructor(
    readonly finalPath: string,
    readonly tempPath: string,
    handle: fs.FileHandle,
  ) {
    this.handle = handle;
  }

  static async create(dir: string, name: string): Promise<StagedFile> {
    const finalPath = path.join(dir, name);
    const tempPath = path.join(dir, `.${name}.${process.pid}.${++stageSequence}.tmp`);
    // 'wx': never write through a temp name someone else already holds.
    const handle = await fs.open(tempPath, 'wx');
    return new StagedFile(finalPath, tempPath, handle);
  }

  async write(bytes: Uint8Array): Promise<void> {
    const h = this.open();
    let done = 0;
    while (done < bytes.byteLength) {
      const { bytesWritten } = await h.write(bytes, done, bytes.byteLength - done);
      done += bytesWritten;
    }
  }

  /** fsync and close: after this the temp file's content survives a crash. */
  async seal(): Promise<void> {
    const h = this.open();
    await h.sync();
    this.handle = undefined;
    await h.close();
  }

  /** Best effort: used on the error path, where the original error is what matters. */
  async discard(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close().catch(() => undefined);
    await fs.rm(this.tempPath, { force: true }).catch(() => undefined);
  }

  private open(): fs.FileHandle {
    if (this.handle === undefined) throw new Error(`${this.tempPath} is already sealed`);
    return this.handle;
  }
}

/** So that renames and new entries in `dir` survive a crash. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** mkdir -p, then fsync the parent of every directory it created so the new entries are durable. */
export async function ensureDirectory(dir: string): Promise<void> {
  const first = await fs.mkdir(dir, { recursive: true });
  if (first === undefined) return;
  let d = path.resolve(dir);
  const stop = path.dirname(path.resolve(first));
  while (d !== stop && d !== path.dirname(d)) {
    await fsyncDirectory(path.dirname(d));
    d = path.dirname(d);
  }
}
