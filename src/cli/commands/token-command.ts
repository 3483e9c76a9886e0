import type { Command } from 'commander';
import { mintLocalToken } from '../../runner/local-agents.ts';
import { loadCliConfig, usage, type GlobalOptions } from '../cli-context.ts';

export function registerTokenCommand(program: Command): void {
  program
    .command('token')
    .description('print a fresh short-lived bearer token for a local agent (for curl)')
    .requiredOption('--agent <name>', 'agent id whose private key is in the data directory')
    .option('--ttl <seconds>', 'lifetime in seconds (default and maximum: auth.maxTokenLifetimeSec, 300)')
    .action(async (opts: { agent: string; ttl?: string }, cmd: Command) => {
      const config = loadCliConfig(cmd.optsWithGlobals<GlobalOptions>());
      const max = config.auth.maxTokenLifetimeSec;
      const ttl = opts.ttl === undefined ? max : Number(opts.ttl);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > max) throw usage(`--ttl must be an integer from 1 to ${max}`);
      process.stdout.write((await mintLocalToken(config, opts.agent, ttl)) + '\n');
    });
}
