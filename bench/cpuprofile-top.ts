/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function and by file, and total
 * (inclusive) time of the functions whose name matches --match. For bench:kv profiling:
 *
 *   node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/kv.ts --only w64
 *   npx tsx bench/cpuprofile-top.ts /tmp/prof/CPU.*.cpuprofile --top 30 --match transactionSync,put
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, match: { type: 'string', default: '' } },
});
const top = Number(values.top);
const matches = values.match ? values.match.split(',') : [];

for (const file of positionals) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Time per sample: the delta to the next sample.
  const selfUs = new Map<number, number>();
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i + 1] ?? 0;
    selfUs.set(prof.samples[i]!, (selfUs.get(prof.samples[i]!) ?? 0) + dt);
  }
  const total = prof.endTime - prof.startTime;
  const short = (url: string) => (url ? url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'nm/').replace(process.cwd() + path.sep, '') : '');
  const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

  const selfBy = new Map<string, number>();
  const fileBy = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    selfBy.set(label(n), (selfBy.get(label(n)) ?? 0) + us);
    const f = n.callFrame.url ? short(n.callFrame.url) : `(${n.callFrame.functionName})`;
    fileBy.set(f, (fileBy.get(f) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  console.log(`\n${file}: ${(total / 1e6).toFixed(1)} s profiled`);
  console.log('self time by function:');
  for (const [k, us] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
  console.log('self time by file:');
  for (const [k, us] of [...fileBy].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
  if (matches.length > 0) {
    // Inclusive time: a sample counts once for each matching function on its stack.
    const incl = new Map<string, number>();
    for (const [id, us] of selfUs) {
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const n = byId.get(cur)!;
        const name = n.callFrame.functionName;
        if (!matches.some((m) => name === m || name.endsWith(`.${m}`))) continue;
        const l = label(n);
        if (seen.has(l)) continue;
        seen.add(l);
        incl.set(l, (incl.get(l) ?? 0) + us);
      }
    }
    console.log('total (inclusive) time:');
    for (const [k, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
  }
}
