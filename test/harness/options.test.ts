/** The harness's command line: defaults, every flag, and refusals with a clear message. */
import { describe, expect, it } from 'vitest';
import { parseHarnessArgs } from '../../harness/options.ts';

describe('parseHarnessArgs', () => {
  it('has the documented defaults', () => {
    expect(parseHarnessArgs([])).toEqual({
      help: false,
      options: { nodes: 3, seconds: 60, nemesis: ['kill', 'pause', 'partition', 'oneway', 'bridge'], seed: 1, clients: 6, keys: 5, tickMs: 50, opTimeoutMs: 5000, leaseDrift: undefined, history: undefined, dir: undefined, keep: false },
    });
  });

  it('reads every flag', () => {
    const r = parseHarnessArgs(['--nodes', '5', '--seconds', '30', '--nemesis', 'kill,oneway,bridge', '--seed', '42', '--clients', '8', '--keys', '3', '--tick-ms', '20', '--op-timeout-ms', '1500', '--lease-drift', '0.05', '--history', 'h.jsonl', '--dir', 'runs', '--keep']);
    expect(r).toEqual({ help: false, options: { nodes: 5, seconds: 30, nemesis: ['kill', 'oneway', 'bridge'], seed: 42, clients: 8, keys: 3, tickMs: 20, opTimeoutMs: 1500, leaseDrift: 0.05, history: 'h.jsonl', dir: 'runs', keep: true } });
    expect(parseHarnessArgs(['--nemesis', 'none'])).toMatchObject({ options: { nemesis: [] } });
    expect(parseHarnessArgs(['--help'])).toEqual({ help: true });
  });

  it('refuses bad values and unknown flags', () => {
    expect(() => parseHarnessArgs(['--nodes', '0'])).toThrow('--nodes must be an integer in 1..9, got "0"');
    expect(() => parseHarnessArgs(['--seconds', '1.5'])).toThrow('--seconds must be an integer');
    expect(() => parseHarnessArgs(['--nemesis', 'kill,flood'])).toThrow('unknown nemesis "flood"');
    expect(() => parseHarnessArgs(['--lease-drift', '2'])).toThrow('--lease-drift must be a number in [0, 1), got "2"');
    expect(() => parseHarnessArgs(['--frobnicate'])).toThrow(/Unknown option '--frobnicate'/);
    expect(() => parseHarnessArgs(['extra'])).toThrow(/positional/);
  });
});
