// Preloaded into the `tessera serve` children by bench/compare-etcd.ts --cpu-prof <dir> (through
// NODE_OPTIONS=--import, since Node 20 refuses --cpu-prof in NODE_OPTIONS): runs the V8 CPU
// profiler from start to exit and writes <dir>/tessera-node-<id>-<pid>.cpuprofile on exit
// (`tessera serve` exits through process.exit after SIGTERM).
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';

const dir = process.env.COMPARE_ETCD_CPU_PROF_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  const i = process.argv.indexOf('--id');
  const id = i >= 0 ? process.argv[i + 1] : 'x';
  process.once('exit', () => {
    // Main-thread sessions dispatch synchronously: the callback runs before post() returns.
    session.post('Profiler.stop', (err, res) => {
      if (!err && res) fs.writeFileSync(path.join(dir, `tessera-node-${id}-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
