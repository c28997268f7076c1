/** `tessera <command> [options]`: dispatches to a subcommand. */
const commands: Record<string, { about: string; run: () => Promise<unknown> }> = {
  model: { about: 'import, export, list, inspect and delete models (see `tessera model --help`)', run: () => import('./model.ts') },
  sim: { about: 'run the deterministic simulator (see `tessera sim --help`)', run: () => import('../../sim/cli.ts') },
  demo: { about: 'data-parallel training on 3 tessera serve processes, with a leader SIGKILL (npm start)', run: () => import('./demo/train.ts') },
  'sim-demo': { about: 'the simulated 5-node timeline demo', run: () => import('../../sim/demo/timeline.ts') },
  serve: { about: 'run one node of a cluster over TCP (see `tessera serve --help`)', run: () => import('./serve.ts') },
  put: { about: 'write a key on a running cluster (see `tessera put --help`)', run: () => import('./kv.ts').then((m) => m.run('put')) },
  get: { about: 'read a key from a running cluster', run: () => import('./kv.ts').then((m) => m.run('get')) },
  del: { about: 'delete a key on a running cluster', run: () => import('./kv.ts').then((m) => m.run('del')) },
  range: { about: 'list keys (by prefix) of a running cluster', run: () => import('./kv.ts').then((m) => m.run('range')) },
  watch: { about: 'print changes under a prefix as JSON lines', run: () => import('./kv.ts').then((m) => m.run('watch')) },
  status: { about: 'members, leader, term, commit/applied index and follower lag', run: () => import('./kv.ts').then((m) => m.run('status')) },
};

const [name, ...rest] = process.argv.slice(2);
const command = name === undefined ? undefined : commands[name];
if (!command) {
  console.log('usage: tessera <command> [options]\n\ncommands:');
  for (const [n, c] of Object.entries(commands)) console.log(`  ${n.padEnd(8)} ${c.about}`);
  process.exit(name === undefined || name === '--help' || name === 'help' ? 0 : 2);
}
// Subcommands parse process.argv themselves: drop the command name.
process.argv = [process.argv[0]!, process.argv[1]!, ...rest];
await command.run();
