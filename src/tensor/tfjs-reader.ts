/**
 * Imports TensorFlow.js weights: a `*-weights_manifest.json` (or a `model.json`) and its `.bin` shards.
 *
 * Layout, as tfjs-core lays it out: each group's shard files, concatenated in `paths` order, form one
 * byte string, and the group's weights sit back to back in it in manifest order, each taking
 * elementCount × (quantized ? quantization dtype size : dtype size) bytes, with no padding.
 *
 * The manifest is validated and every shard of every group is stat'ed and its byte count checked
 * before the first tensor is yielded: a broken file set fails up front, so a caller that stores
 * tensors as they arrive has written nothing when INVALID_FORMAT is raised. Bytes that change while
 * the import runs are still detected, but only when reached.
 */
import { TesseraError } from '../errors.ts';
import type { Tensor } from './tensor.ts';
import { decodeTfjsWeight } from './tfjs-decode.ts';
import { readTfjsManifest, storedByteLength, type TfjsQuantization, type TfjsWeightGroup } from './tfjs-manifest.ts';
import { ShardReader, statShards, type ShardFile } from './tfjs-shards.ts';

export interface TfjsImportedTensor {
  readonly name: string;
  readonly tensor: Tensor;
  /** How the weight was stored, when quantized: the tensor holds the dequantized values. */
  readonly quantization?: TfjsQuantization;
}

/**
 * Yields every weight in manifest order. Holds one weight (stored and decoded bytes) and one open
 * shard file at a time. Breaking out of the loop closes the open file.
 */
export async function* importTfjs(manifestPath: string): AsyncGenerator<TfjsImportedTensor, void, undefined> {
  const manifest = await readTfjsManifest(manifestPath);
  const groups: ShardFile[][] = [];
  for (const [i, group] of manifest.entries()) {
    const shards = await statShards(manifestPath, group.paths, i);
    checkGroupLength(`${manifestPath}: group ${i}`, group, shards);
    groups.push(shards);
  }

  for (const [i, group] of manifest.entries()) {
    const context = `${manifestPath}: group ${i}`;
    const reader = new ShardReader(groups[i]!, context);
    try {
      for (const spec of group.weights) {
        const stored = await reader.read(storedByteLength(spec), `weight ${spec.name}`);
        const tensor = decodeTfjsWeight(spec, stored);
        yield spec.quantization === undefined ? { name: spec.name, tensor } : { name: spec.name, tensor, quantization: spec.quantization };
      }
      await reader.finish();
    } finally {
      await reader.close();
    }
  }
}

/** The shards must hold exactly the bytes the weights need: no less (truncation), no more (a wrong manifest). */
function checkGroupLength(context: string, group: TfjsWeightGroup, shards: readonly ShardFile[]): void {
  const available = shards.reduce((sum, s) => sum + s.size, 0);
  let end = 0;
  for (const spec of group.weights) {
    const start = end;
    end += storedByteLength(spec);
    if (end > available) {
      throw new TesseraError(
        'INVALID_FORMAT',
        `${context}: weight ${spec.name} needs bytes [${start}, ${end}) but shards ${shardList(shards)} hold only ${available} bytes`,
      );
    }
  }
  if (available > end) {
    throw new TesseraError(
      'INVALID_FORMAT',
      `${context}: shards ${shardList(shards)} hold ${available} bytes but the weights need ${end}: ${available - end} trailing bytes`,
    );
  }
}

function shardList(shards: readonly ShardFile[]): string {
  return shards.map((s) => s.shardPath).join(', ');
}
