import type { Command } from 'commander';
import { addAgent, listAgents } from '../../runner/local-agents.ts';
import { loadCliConfig, printJson, type GlobalOptions } from '../cli-context.ts';

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerAgentsCommand(program: Command): void {
  const agents = program.command('agents').description('register agents and list them');

  agents
    .command('add')
    .description('create an Ed25519 key pair for an agent (private key mode 0600, never printed) and register its public key')
    .argument('<name>', 'agent id: lower-case letters, digits, ".", "_", "-" (max 63)')
    .option('--tool <name>', 'a tool the agent may call (repeatable)', collect, [])
    .option('--description <text>', 'what the agent is for', '')
    .action((name: string, opts: { tool: string[]; description: string }, cmd: Command) => {
      const config = loadCliConfig(cmd.optsWithGlobals<GlobalOptions>());
      const added = addAgent(config, name, opts.tool, opts.description);
      process.stdout.write(`agent ${added.id} registered\n  public key  ${added.publicKeyPath} (${added.fingerprint})\n  private key ${added.privateKeyPath} (mode 0600)\n`);
      if (added.tools.length === 0) process.stdout.write('  no tools granted yet: add --tool NAME, or list them in the config file\n');
      process.stdout.write(`  restart 'cordon serve' to pick it up; then: cordon token --agent ${added.id}\n`);
    });

  agents
    .command('list')
    .description('list registered agents, their key fingerprints and tools')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const rows = listAgents(loadCliConfig(cmd.optsWithGlobals<GlobalOptions>()));
      if (opts.json === true) return printJson({ agents: rows });
      if (rows.length === 0) return void process.stdout.write('no agents\n');
      const w = Math.max(5, ...rows.map((r) => r.id.length));
      process.stdout.write(`${'AGENT'.padEnd(w)}  SOURCE    ${'KEY'.padEnd(29)}  TOOLS\n`);
      for (const r of rows) process.stdout.write(`${r.id.padEnd(w)}  ${r.source.padEnd(8)}  ${(r.key ?? '(no key yet)').padEnd(29)}  ${r.tools.join(',') || '-'}\n`);
    });
}
