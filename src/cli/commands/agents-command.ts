import type { Command } from 'commander';
import { addAgent, listAgents } from '../../runner/local-agents.ts';
import { collect, loadCliConfig, printJson, type GlobalOptions } from '../cli-context.ts';

export function registerAgentsCommand(program: Command): void {
  const agents = program.command('agents').description('register agents and list them');

  agents
    .command('add')
    .description('create an Ed25519 key pair for an agent (private key mode 0600, never printed) and register its public key')
    .argument('<name>', 'agent id: lower-case letters, digits, ".", "_", "-" (max 63)')
    .option('--group <name>', 'a group the agent is in; policies grant by group, e.g. coding, research (repeatable)', collect, [])
    .option('--description <text>', 'what the agent is for', '')
    .action((name: string, opts: { group: string[]; description: string }, cmd: Command) => {
      const config = loadCliConfig(cmd.optsWithGlobals<GlobalOptions>());
      const added = addAgent(config, name, opts.group, opts.description);
      process.stdout.write(`agent ${added.id} registered\n  public key  ${added.publicKeyPath} (${added.fingerprint})\n  private key ${added.privateKeyPath} (mode 0600)\n`);
      if (added.groups.length === 0) process.stdout.write('  in no group: it may do only what policies grant Agent::"' + added.id + '" by name (deny by default)\n');
      process.stdout.write(`  restart 'cordon serve' to pick it up; then: cordon token --agent ${added.id}\n`);
    });

  agents
    .command('list')
    .description('list registered agents, their key fingerprints and groups')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const rows = listAgents(loadCliConfig(cmd.optsWithGlobals<GlobalOptions>()));
      if (opts.json === true) return printJson({ agents: rows });
      if (rows.length === 0) return void process.stdout.write('no agents\n');
      const w = Math.max(5, ...rows.map((r) => r.id.length));
      process.stdout.write(`${'AGENT'.padEnd(w)}  SOURCE    ${'KEY'.padEnd(29)}  GROUPS\n`);
      for (const r of rows) process.stdout.write(`${r.id.padEnd(w)}  ${r.source.padEnd(8)}  ${(r.key ?? '(no key yet)').padEnd(29)}  ${r.groups.join(',') || '-'}\n`);
    });
}
