/**
 * What the model workload knows about its saves, and the rules every observation of a model
 * must pass. Exactly these are violations:
 *
 * 1. At any node, the head names a stored version (or none), and it is the newest stored one.
 * 2. A chunk read at node B for version V of model M, committed at revision R:
 *    - B applied < R: B may lack V's chunks yet. No violation; the reader tries another node.
 *    - B applied >= R, V's record absent at B: V was deleted. The load ends not-found (allowed).
 *    - B applied >= R, V's record present at B: the chunk must be there. Missing = violation.
 *    Each case is judged inside one event of B, so the state it looks at is one applied state.
 * 3. A loaded version: every chunk has the length its manifest gives, hashes to its address,
 *    and carries the tag of the save the manifest names, at its own tensor and chunk (a tag of
 *    another save is a mixed version); that save issued a commitVersion for this model, and the
 *    manifest is exactly that save's; no version number is ever seen holding two saves.
 * 4. At the end, on every node once caught up: every stored version passes 3 with the chunks the
 *    node holds, and every version whose commit was acknowledged and never deleted is stored.
 */
import type { NodeId } from '../../src/raft/types.ts';
import type { KvStateMachine } from '../../src/store/kv-state-machine.ts';
import { decodeHead, decodeStoredVersion, headKey, versionKey, versionPrefix, type StoredVersion } from '../../src/store/model-keys.ts';
import { bytesEqual, prefixEnd } from '../../src/util/bytes.ts';
import { decodeTag, expectedChunkLength, manifestSave, sameManifest, sha256, type SavePlan } from './model-saves.ts';

export interface SaveRecord {
  readonly plan: SavePlan;
  commitIssued: boolean;
  /** The version its acknowledged commit made (null: none acknowledged). */
  version: number | null;
}

export type ChunkRead =
  | { readonly kind: 'chunk'; readonly data: Uint8Array }
  | { readonly kind: 'notApplied' }
  | { readonly kind: 'deleted' }
  | { readonly kind: 'missing' };

const SCAN_PAGE = 1000;

export class ModelLedger {
  private readonly saves = new Map<number, SaveRecord>();
  /** `model/version` → the save first seen (or acknowledged) as that version. */
  private readonly owners = new Map<string, number>();
  private readonly deleted = new Set<string>();

  constructor(private readonly report: (text: string) => void) {}

  register(plan: SavePlan): void {
    this.saves.set(plan.id, { plan, commitIssued: false, version: null });
  }

  commitIssued(save: number): void {
    this.saves.get(save)!.commitIssued = true;
  }

  committed(save: number, version: number): void {
    const rec = this.saves.get(save)!;
    rec.version = version;
    this.claim(rec.plan.model, version, save, `commit of save ${save} acknowledged`);
  }

  deleteIssued(model: string, version: number): void {
    this.deleted.add(`${model}/${version}`);
  }

  /** Versions of `model` whose commit was acknowledged and that no delete was issued for, oldest first. */
  live(model: string): number[] {
    const out: number[] = [];
    for (const r of this.saves.values()) {
      if (r.plan.model === model && r.version !== null && !this.deleted.has(`${model}/${r.version}`)) out.push(r.version);
    }
    return out.sort((a, b) => a - b);
  }

  /** Rule 1 at one node: the version the head names, or null if none. */
  headAt(sm: KvStateMachine, node: NodeId, model: string): StoredVersion | null {
    const rec = sm.get(headKey(model));
    const head = rec === null ? 0 : decodeHead(rec.value).head;
    if (head === 0) return null;
    const v = sm.get(versionKey(model, head));
    if (v === null) {
      this.fail(`node ${node} at applied index ${sm.appliedIndex()}`, `the head of model ${model} is version ${head}, which is not stored`);
      return null;
    }
    return decodeStoredVersion(v.value);
  }

  /** Rule 2: one chunk of `v` read at one node. */
  chunkAt(sm: KvStateMachine, node: NodeId, model: string, v: StoredVersion, hash: Uint8Array, where: string): ChunkRead {
    const applied = sm.appliedIndex();
    if (applied < v.createdRevision) return { kind: 'notApplied' };
    const data = sm.readTable('chunks', hash);
    // A copy: the reader keeps it across events, and a store may reuse the bytes it handed out.
    if (data !== null) return { kind: 'chunk', data: data.slice() };
    if (sm.get(versionKey(model, v.version)) === null) return { kind: 'deleted' };
    this.fail(
      where,
      `partial version: node ${node} applied through ${applied} (the commit is at ${v.createdRevision}) and still stores model ${model} ` +
        `version ${v.version}, but not its chunk ${hex(hash)}`,
    );
    return { kind: 'missing' };
  }

  /** Rule 3: `chunks` are the version's chunks in manifest order. True if it passed. */
  checkVersion(model: string, v: StoredVersion, chunks: readonly Uint8Array[], where: string): boolean {
    const at = `${where}: model ${model} version ${v.version}`;
    const save = manifestSave(v.manifest);
    if (save === null) return this.fail(at, 'the manifest names no save');
    let k = 0;
    for (const [ti, t] of v.manifest.tensors.entries()) {
      for (const [c, hash] of t.chunks.entries()) {
        const data = chunks[k++];
        if (data === undefined) return this.fail(at, `only ${chunks.length} chunks were read`);
        const chunk = `tensor ${t.name} chunk ${c}`;
        if (data.length !== expectedChunkLength(t, c)) return this.fail(at, `${chunk} is ${data.length} bytes, the manifest says ${expectedChunkLength(t, c)}`);
        if (!bytesEqual(sha256(data), hash)) return this.fail(at, `${chunk} does not hash to its address ${hex(hash)}`);
        const tag = decodeTag(data);
        if (tag === null || tag.save !== save) return this.fail(at, `mixed version: ${chunk} was written by save ${tag?.save ?? '?'}, the version is save ${save}'s`);
        if (tag.tensor !== ti || tag.chunk !== c) return this.fail(at, `${chunk} holds tensor ${tag.tensor} chunk ${tag.chunk} of save ${save}`);
      }
    }
    const rec = this.saves.get(save);
    if (rec === undefined) return this.fail(at, `it is save ${save}, which no writer started`);
    if (!rec.commitIssued) return this.fail(at, `it is save ${save}, whose commitVersion was never issued (an interrupted save became visible)`);
    if (rec.plan.model !== model) return this.fail(at, `it is save ${save}, a save of model ${rec.plan.model}`);
    if (!sameManifest(rec.plan.manifest, v.manifest)) return this.fail(at, `its manifest is not the one save ${save} committed`);
    return this.claim(model, v.version, save, where);
  }

  /** Rule 4 at one caught-up node; returns how many versions it checked. */
  scan(sm: KvStateMachine, node: NodeId, models: readonly string[]): number {
    const where = `end state at node ${node}`;
    let checked = 0;
    for (const model of models) {
      const stored = new Set<number>();
      const prefix = versionPrefix(model);
      let after: Uint8Array | undefined;
      for (;;) {
        const page = sm.range(prefix, prefixEnd(prefix), { limit: SCAN_PAGE, after });
        for (const { record } of page.records) {
          const v = decodeStoredVersion(record.value);
          stored.add(v.version);
          checked++;
          const chunks: Uint8Array[] = [];
          for (const hash of v.manifest.tensors.flatMap((t) => t.chunks)) {
            const r = this.chunkAt(sm, node, model, v, hash, where);
            if (r.kind !== 'chunk') break;
            chunks.push(r.data);
          }
          if (chunks.length === v.manifest.tensors.reduce((n, t) => n + t.chunks.length, 0)) this.checkVersion(model, v, chunks, where);
        }
        if (!page.more) break;
        after = page.after!;
      }
      const rec = sm.get(headKey(model));
      const head = rec === null ? 0 : decodeHead(rec.value).head;
      const newest = Math.max(0, ...stored);
      if (head !== newest) this.fail(where, `the head of model ${model} is version ${head}, the newest stored is ${newest}`);
      for (const v of this.live(model)) {
        if (!stored.has(v)) this.fail(where, `acknowledged version lost: model ${model} version ${v} was committed, never deleted, and is not stored`);
      }
    }
    return checked;
  }

  private claim(model: string, version: number, save: number, where: string): boolean {
    const key = `${model}/${version}`;
    const owner = this.owners.get(key);
    if (owner === undefined) this.owners.set(key, save);
    else if (owner !== save) return this.fail(where, `model ${model} version ${version} is save ${save}, but was save ${owner} before`);
    return true;
  }

  private fail(where: string, what: string): false {
    this.report(`model atomicity: ${where}: ${what}`);
    return false;
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex').slice(0, 16);
}
