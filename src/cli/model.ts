/**
 * `tessera model <import|export|ls|info|rm> ...` against the cluster kept in --dir (started
 * in this process for the command, then closed).
 *
 *   tessera model import <model> <file.safetensors | index.json | dir | *-weights_manifest.json>
 *   tessera model export <model> <out.safetensors | out-dir> [--version N] [--shard-mb M]
 *   tessera model ls
 *   tessera model info <model>
 *   tessera model rm <model> --version N
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { Cluster } from '../cluster/cluster.ts';
import { isTesseraError } from '../errors.ts';
import { decodeHead, MODEL_KEY_PREFIX } from '../store/model-keys.ts';
import { exportSafetensors, importSafetensors, importTfjsWeights } from '../tensor/model-files.ts';
import { TensorStore } from '../tensor/tensor-store.ts';
import { messageOf, withoutCode } from './error-text.ts';

const USAGE = `usage: tessera model <command> [options]
  import <model> <file>      a .safetensors file, a sharded checkpoint (index.json or its directory),
                             or TF.js weights (*-weights_manifest.json / model.json)
  export <model> <out>       a .safetensors file, or with --shard-mb a directory of shards + index
  ls                         models and their head versions
  info <model>               versions, tensors and metadata
  rm <model> --version N     delete a version (its chunks are freed unless another version uses them)
options: --dir DIR (default ./data)  --nodes N (default 3)  --version N  --shard-mb M`;

/** The arguments each command takes after its name; all are required. */
const ARGS: Readonly<Record<string, readonly string[]>> = { import: ['<model>', '<file>'], export: ['<model>', '<out>'], ls: [], info: ['<model>'], rm: ['<model>'] };

/** Bad usage: one line and the usage text, exit 2, before any cluster is started. */
function usageExit(message: string): never {
  console.error(`tessera model${positionals[0] === undefined ? '' : ` ${positionals[0]}`}: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseFlags() {
  return parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string', default: './data' },
      nodes: { type: 'string', default: '3' },
      version: { type: 'string' },
      'shard-mb': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
}

let positionals: string[] = [];
let parsed: ReturnType<typeof parseFlags>;
try {
  parsed = parseFlags();
} catch (e) {
  usageExit((e as Error).message);
}
const opts = parsed.values;
positionals = parsed.positionals;

const [command, model, file] = positionals;
if (opts.help || command === undefined) {
  console.log(USAGE);
  process.exit(opts.help ? 0 : 2);
}
const args = ARGS[command];
if (args === undefined) usageExit(`unknown command ${JSON.stringify(command)}`);
if (positionals.length - 1 < args.length) usageExit(`missing ${args[positionals.length - 1]}`);
if (positionals.length - 1 > args.length) usageExit(`unexpected argument ${JSON.stringify(positionals[args.length + 1])}`);
const version = opts.version === undefined ? undefined : Number(opts.version);
if (version !== undefined && !(Number.isSafeInteger(version) && version > 0)) usageExit(`--version must be a positive integer, got ${JSON.stringify(opts.version)}`);
if (command === 'rm' && version === undefined) usageExit('missing --version');
const shardMb = opts['shard-mb'] === undefined ? undefined : Number(opts['shard-mb']);
if (shardMb !== undefined && !(shardMb > 0)) usageExit(`--shard-mb must be a positive number, got ${JSON.stringify(opts['shard-mb'])}`);

let cluster: Cluster;
try {
  // All nodes live in this short-lived process, so a fast election clock costs nothing.
  cluster = await Cluster.start({ nodes: Number(opts.nodes), dir: opts.dir, tickMs: 20 });
} catch (e) {
  if (isTesseraError(e, 'INVALID_ARGUMENT')) usageExit(withoutCode(e));
  console.error(`tessera model ${command}: ${messageOf(e)}`);
  process.exit(1);
}
const kv = cluster.client();
const store = new TensorStore(kv);
try {
  switch (command) {
    case 'import': {
      const name = model!;
      const src = file!;
      const saved = await withProgress('import', (onProgress) =>
        src.endsWith('.json') && !src.endsWith('.index.json') ? importTfjsWeights(store, name, src, { onProgress }) : importSafetensors(store, name, src, { onProgress }),
      );
      console.log(`${name} version ${saved.version}: ${saved.bytes} bytes in ${saved.chunks} chunks (${saved.chunksWritten} sent, the rest already stored)`);
      break;
    }
    case 'export': {
      const name = model!;
      const out = file!;
      if (shardMb !== undefined) fs.mkdirSync(out, { recursive: true });
      const res = await withProgress('export', (onProgress) =>
        exportSafetensors(store, name, out, { onProgress, ...(version !== undefined && { version }), ...(shardMb !== undefined && { maxShardBytes: Math.round(shardMb * 1024 * 1024) }) }),
      );
      console.log(`${name} version ${res.version}: ${res.bytes} bytes to ${res.files.join(', ')}`);
      break;
    }
    case 'ls':
      for await (const e of kv.range(MODEL_KEY_PREFIX)) {
        const key = new TextDecoder().decode(e.key);
        if (key.endsWith('/head')) console.log(`${key.slice(2, -5)}\thead ${decodeHead(e.value).head}`);
      }
      break;
    case 'info':
      console.log(JSON.stringify(await store.info(model!), null, 2));
      break;
    case 'rm': {
      const head = await store.deleteVersion(model!, version!);
      console.log(`deleted ${model} version ${version}; head is now ${head === 0 ? 'none' : `version ${head}`}`);
      break;
    }
  }
} catch (e) {
  console.error(`tessera model ${command}: ${messageOf(e)}`);
  process.exitCode = 1;
} finally {
  await kv.close();
  await cluster.close();
}

async function withProgress<T>(what: string, run: (onProgress: (done: number, total: number) => void) => Promise<T>): Promise<T> {
  const bar = new cliProgress.SingleBar({ format: `${what} [{bar}] {percentage}% | {value}/{total} MiB`, hideCursor: true }, cliProgress.Presets.shades_classic);
  let started = false;
  const mib = (n: number) => Math.round((n / 1048576) * 10) / 10;
  try {
    return await run((done, total) => {
      if (!started) {
        bar.start(mib(total), 0);
        started = true;
      }
      bar.update(mib(done));
    });
  } finally {
    if (started) bar.stop();
  }
}
