/** `npm start` must keep working: the training demo runs to its own pass/fail check. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const DEMO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/demo/train.ts');

it('the training demo converges to the closed form through a leader kill and reloads its checkpoint bit for bit', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', DEMO, '--steps', '45'], { encoding: 'utf8', timeout: 90_000 });
  expect(run.status, run.stderr + run.stdout).toBe(0);
  expect(run.stdout).toContain('killed the leader');
  expect(run.stdout).toContain('restarted node');
  expect(run.stdout).toMatch(/reloaded == trained\s*│\s*true/);
  expect(run.stdout.trim().endsWith('ok')).toBe(true);
}, 120_000);
