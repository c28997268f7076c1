/**
 * `npm run harness -- --nodes 3 --seconds 60 --nemesis kill,pause,partition --seed 1`
 *
 * The multi-process harness's command line (options.ts has the flags, harness.ts the run).
 * Prints progress and a summary; the last line is JSON {"ops","acked","lost","violations","faults"}.
 * Exit status: 0 every check passed, 1 a violation or a lost write, 2 the harness could not run or
 * decide (bad usage, a node would not start, interrupted, past the hard deadline).
 *
 * Children never outlive the harness (short of a SIGKILL of the harness itself): every child is
 * SIGCONTed and SIGKILLed on exit, on SIGINT/SIGTERM (after the run winds down; a second signal
 * exits at once), on an uncaught error, and at the hard deadline (hardDeadlineMs: the run's
 * seconds plus every phase's budget).
 */
import { hardDeadlineMs, HarnessRun, type HarnessSummary } from './harness.ts';
import { describeCounts, zeroCounts } from './nemesis.ts';
import { parseHarnessArgs, USAGE, UsageError, type ParsedArgs } from './options.ts';

export type ExitCode = 0 | 1 | 2;

let parsed: ParsedArgs;
try {
  parsed = parseHarnessArgs(process.argv.slice(2));
} catch (e) {
  console.error(`harness: ${e instanceof UsageError ? e.message : String(e)}\n\n${USAGE}`);
  process.exit(2);
}
if (parsed.help) {
  console.log(USAGE);
  process.exit(0);
}
const options = parsed.options;
const run = new HarnessRun(options, (line) => console.log(line));
const controller = new AbortController();

function die(why: string): never {
  console.error(`harness: ${why}`);
  run.killAllSync();
  if (run.directory !== '') console.error(`harness: the run's directory is left at ${run.directory}`);
  const summary: HarnessSummary = { ops: 0, acked: 0, lost: 0, violations: 0, faults: zeroCounts() };
  console.log(JSON.stringify(summary));
  process.exit(2);
}

process.on('exit', () => run.killAllSync());
let signals = 0;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (++signals > 1) die(`second ${sig}: exiting at once`);
    console.log(`harness: ${sig}: stopping (again to exit at once)`);
    controller.abort();
  });
}
process.on('uncaughtException', (e) => die(`uncaught error: ${e.stack ?? e.message}`));
process.on('unhandledRejection', (e) => die(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
const deadlineMs = hardDeadlineMs(options.seconds, options.opTimeoutMs);
const hard = setTimeout(() => die(`hard deadline of ${Math.round(deadlineMs / 1000)} s passed`), deadlineMs);

const result = await run.run(controller.signal);
clearTimeout(hard);

const s = result.summary;
console.log('');
console.log(`summary: ${s.ops} ops, ${s.acked} acknowledged writes, faults ${describeCounts(s.faults)}, wall ${(result.wallMs / 1000).toFixed(1)} s`);
for (const p of result.problems) console.log(`  ${p}`);
if (result.undecided !== null) console.log(`  undecided: ${result.undecided}`);
const code: ExitCode = s.violations > 0 || s.lost > 0 ? 1 : result.undecided !== null ? 2 : 0;
console.log(`verdict: ${code === 0 ? 'ok' : code === 1 ? 'FAILED' : 'UNDECIDED'}: ${s.violations} violations, ${s.lost} lost${result.kept ? `; kept ${result.dir}` : ''}`);
console.log(JSON.stringify(s));
process.exitCode = code;
// Everything is closed by now; should a stray handle remain, it must not hold the exit up.
setTimeout(() => process.exit(code), 2_000).unref();
