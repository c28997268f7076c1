/**
 * Child process for lmdb-crash.test.ts: writes to an LMDB store as fast as it can and reports
 * on stdout what has been acknowledged, until the parent kills it with SIGKILL.
 */
import { EntryType } from '../../src/raft/types.ts';
import { encodeCommand } from '../../src/store/kv-command.ts';
import { LmdbKvStateMachine } from '../../src/store/lmdb-kv.ts';
import { LmdbLogStore } from '../../src/store/lmdb-log-store.ts';
import { utf8 } from '../../src/util/bytes.ts';

const [mode, dir] = process.argv.slice(2);
if (!dir) throw new Error('usage: lmdb-crash-child.ts log|log-async|kv <dir>');

if (mode === 'log' || mode === 'log-async') {
  const store = LmdbLogStore.open(dir, { clusterId: 'crash', nodeId: 1, asyncCommits: mode === 'log-async' });
  let index = store.lastIndex();
  const step = (): void => {
    const batch = [1, 2, 3].map(() => ({ index: ++index, term: 1, type: EntryType.Normal, data: utf8(`entry ${index}`) }));
    const last = index;
    store.save({ term: 1, vote: 1, commit: last }, batch, () => {
      process.stdout.write(`acked ${last}\n`);
      setImmediate(step);
    });
  };
  step();
} else {
  const sm = LmdbKvStateMachine.open(dir);
  const step = (): void => {
    const first = sm.appliedIndex() + 1;
    const entries = [0, 1, 2, 3].map((i) => ({
      index: first + i,
      term: 1,
      type: EntryType.Normal,
      // Every entry bumps one counter key and writes one key of its own.
      data: encodeCommand(
        i % 2 === 0
          ? { op: 'put', key: utf8('counter'), value: utf8(String(first + i)) }
          : { op: 'txn', compares: [], success: [{ op: 'put', key: utf8('counter'), value: utf8(String(first + i)) }, { op: 'put', key: utf8(`k${first + i}`), value: utf8('x') }], failure: [] },
      ),
    }));
    sm.apply(entries);
    process.stdout.write(`applied ${sm.appliedIndex()}\n`);
    setImmediate(step);
  };
  step();
}
