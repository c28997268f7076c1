/**
 * Model versions in the state machine: content-addressed chunks with reference counts, and
 * versions that become visible in one command. commitVersion checks that every chunk a manifest
 * names is stored before it moves the head, so a reader that follows the head always finds a
 * complete version: the old one or the new one, never a mix, whatever happened to the writer.
 */
import { createHash } from 'node:crypto';
import { bytesEqual, prefixEnd } from '../util/bytes.ts';
import { decodeChunkRef, deleteChunk, readChunkRef, writeChunkRef } from './chunk-refs.ts';
import { assert } from '../util/assert.ts';
import type { KvBackend } from './kv-backend.ts';
import type { KvData } from './kv-data.ts';
import type { KvResult } from './kv-result.ts';
import type { ModelCommand } from './model-command.ts';
import { paramInit, paramPush } from './param-execute.ts';
import {
  decodeHead,
  decodeStoredVersion,
  encodeHead,
  encodeStoredVersion,
  headKey,
  versionKey,
  versionOfKey,
  versionPrefix,
  type ModelHead,
} from './model-keys.ts';
import { chunkLength, tensorByteLength } from './model-manifest.ts';

type Cmd<Op extends ModelCommand['op']> = Extract<ModelCommand, { op: Op }>;

/** Refs-table keys scanned per step of a gc: bounds one step's memory, not the table. */
const GC_PAGE = 1024;
const VERSION_PAGE = 256;

export function chunkPut(backend: KvBackend, cmd: Cmd<'chunkPut'>, revision: number): KvResult {
  const digest = createHash('sha256').update(cmd.data).digest();
  if (!bytesEqual(digest, cmd.hash)) return { ok: false, reason: 'invalid', message: 'chunk bytes do not hash to their address' };
  const ref = readChunkRef(backend, cmd.hash);
  if (ref !== null) {
    // An unreferenced chunk written again belongs to a save in progress: restart its gc grace.
    if (ref.refs === 0) writeChunkRef(backend, cmd.hash, { ...ref, since: revision });
    return { ok: true, revision, existed: true };
  }
  backend.put('chunks', cmd.hash, cmd.data);
  writeChunkRef(backend, cmd.hash, { refs: 0, length: cmd.data.length, since: revision });
  return { ok: true, revision, existed: false };
}

export function commitVersion(backend: KvBackend, data: KvData, cmd: Cmd<'commitVersion'>, revision: number): KvResult {
  const head = readHead(data, cmd.model);
  if (cmd.expectedHead !== null && head.head !== cmd.expectedHead) return { ok: false, reason: 'head_moved', head: head.head };
  const missing = new Map<string, Uint8Array>();
  const counts = new Map<string, { hash: Uint8Array; n: number }>();
  for (const t of cmd.manifest.tensors) {
    const byteLength = tensorByteLength(t);
    for (let i = 0; i < t.chunks.length; i++) {
      const hash = t.chunks[i]!;
      const id = Buffer.from(hash).toString('hex');
      const ref = readChunkRef(backend, hash);
      if (ref === null) {
        missing.set(id, hash);
        continue;
      }
      const want = chunkLength(byteLength, t.chunkBytes, i);
      if (ref.length !== want) {
        return { ok: false, reason: 'invalid', message: `tensor ${t.name} chunk ${i} is ${ref.length} bytes, the manifest needs ${want}` };
      }
      const c = counts.get(id);
      if (c === undefined) counts.set(id, { hash, n: 1 });
      else c.n++;
    }
  }
  if (missing.size > 0) return { ok: false, reason: 'missing_chunks', missing: [...missing.values()] };
  for (const { hash, n } of counts.values()) {
    const ref = readChunkRef(backend, hash)!;
    writeChunkRef(backend, hash, { ...ref, refs: ref.refs + n });
  }
  const version = head.latest + 1;
  data.put(versionKey(cmd.model, version), encodeStoredVersion({ version, createdRevision: revision, manifest: cmd.manifest }), revision);
  data.put(headKey(cmd.model), encodeHead({ head: version, latest: version }), revision);
  return { ok: true, revision, version };
}

export function deleteVersion(backend: KvBackend, data: KvData, cmd: Cmd<'deleteVersion'>, revision: number): KvResult {
  const key = versionKey(cmd.model, cmd.version);
  const record = data.get(key);
  if (record === null) return { ok: false, reason: 'not_found' };
  for (const t of decodeStoredVersion(record.value).manifest.tensors) {
    for (const hash of t.chunks) release(backend, hash);
  }
  data.delete(key, revision);
  const head = readHead(data, cmd.model);
  let next = head.head;
  if (head.head === cmd.version) {
    next = newestVersion(backend, cmd.model);
    data.put(headKey(cmd.model), encodeHead({ head: next, latest: head.latest }), revision);
  }
  return { ok: true, revision, version: next };
}

export function gcChunks(backend: KvBackend, cmd: Cmd<'gcChunks'>, revision: number): KvResult {
  let deleted = 0;
  let from: Uint8Array = new Uint8Array(0);
  for (;;) {
    const page = backend.range('chunkRefs', from, null, GC_PAGE + 1);
    const more = page.length > GC_PAGE;
    for (const { key, value } of page.slice(0, GC_PAGE)) {
      const ref = decodeChunkRef(value);
      if (ref.refs === 0 && ref.since < cmd.before) {
        deleteChunk(backend, key);
        deleted++;
      }
    }
    if (!more) break;
    from = page[GC_PAGE]!.key;
  }
  return { ok: true, revision, deleted };
}

function release(backend: KvBackend, hash: Uint8Array): void {
  const ref = readChunkRef(backend, hash);
  assert(ref !== null && ref.refs > 0, 'chunk reference count underflow: a stored version names a chunk with no references');
  if (ref.refs === 1) deleteChunk(backend, hash);
  else writeChunkRef(backend, hash, { ...ref, refs: ref.refs - 1 });
}

export function readHead(data: Pick<KvData, 'get'>, model: string): ModelHead {
  const rec = data.get(headKey(model));
  return rec === null ? { head: 0, latest: 0 } : decodeHead(rec.value);
}

/** The highest version of a model still stored, 0 if none. */
function newestVersion(backend: KvBackend, model: string): number {
  const prefix = versionPrefix(model);
  const end = prefixEnd(prefix);
  let from = prefix;
  let newest = 0;
  for (;;) {
    const page = backend.range('data', from, end, VERSION_PAGE + 1);
    const last = page[Math.min(page.length, VERSION_PAGE) - 1];
    if (last !== undefined) newest = versionOfKey(last.key, model);
    if (page.length <= VERSION_PAGE) return newest;
    from = page[VERSION_PAGE]!.key;
  }
}

/** Runs a model command: the chunk and parameter tables directly, model keys through `data` (they are watchable). */
export function executeModel(backend: KvBackend, data: KvData, cmd: ModelCommand, revision: number): KvResult {
  switch (cmd.op) {
    case 'chunkPut':
      return chunkPut(backend, cmd, revision);
    case 'commitVersion':
      return commitVersion(backend, data, cmd, revision);
    case 'deleteVersion':
      return deleteVersion(backend, data, cmd, revision);
    case 'gcChunks':
      return gcChunks(backend, cmd, revision);
    case 'paramInit':
      return paramInit(backend, cmd, revision);
    case 'paramPush':
      return paramPush(backend, cmd, revision);
  }
}
