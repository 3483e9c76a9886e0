import { CORDON_VERSION } from '../core/version.ts';
import { Command, CommanderError } from 'commander';
import { ExitCode, toCordonError } from '../core/errors.ts';
import { registerAgentsCommand } from './commands/agents-command.ts';
import { registerApprovalsCommand } from './commands/approvals-command.ts';
import { registerAuditCommand } from './commands/audit-command.ts';
import { registerEgressCommand } from './commands/egress-command.ts';
import { registerMcpCommand } from './commands/mcp-command.ts';
import { registerPolicyCommand } from './commands/policy-command.ts';
import { registerReloadCommand } from './commands/reload-command.ts';
import { registerRunCommand } from './commands/run-command.ts';
import { registerSandboxesCommand } from './commands/sandboxes-command.ts';
import { registerServeCommand } from './commands/serve-command.ts';
import { registerTokenCommand } from './commands/token-command.ts';
import { registerToolsCommand } from './commands/tools-command.ts';
import { registerUsersCommand } from './commands/users-command.ts';

export function createProgram(): Command {
  const program = new Command('cordon')
    .description('Sandboxed tool runtime for AI agents: every call authenticated, authorized, sandboxed and audited.')
    .version(CORDON_VERSION)
    .option('--config <file>', 'config file (default: ./cordon.yaml if present, else the embedded default; env CORDON_CONFIG)')
    .option('--data-dir <dir>', 'where keys, state and the audit log live (default: .cordon next to the config; env CORDON_DATA_DIR)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env CORDON_LOG_LEVEL)')
    .showHelpAfterError()
    .exitOverride();
  registerServeCommand(program);
  registerReloadCommand(program);
  registerRunCommand(program);
  registerMcpCommand(program);
  registerToolsCommand(program);
  registerAgentsCommand(program);
  registerTokenCommand(program);
  registerUsersCommand(program);
  registerPolicyCommand(program);
  registerEgressCommand(program);
  registerSandboxesCommand(program);
  registerAuditCommand(program);
  registerApprovalsCommand(program);
  program.commands.forEach(function applyExit(c: Command): void {
    c.exitOverride();
    c.commands.forEach(applyExit);
  });
  return program;
}

/**
 * Whether the command asked for JSON: its own parsed `--json` once commander got that far,
 * else the flag among the words before `--` (a parse error comes before any option is read).
 */
function wantsJson(argv: readonly string[], parsed: boolean | undefined): boolean {
  if (parsed !== undefined) return parsed;
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** An error as a `--json` reader gets it on stdout: the API's error shape, plus the exit code. */
function printJsonError(code: string, message: string, details: Readonly<Record<string, unknown>>, exitCode: number): void {
  process.stdout.write(JSON.stringify({ error: { code, message, details, exitCode } }, null, 2) + '\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  let json: boolean | undefined;
  const program = createProgram();
  program.hook('preAction', (_root, action) => {
    json = action.opts<{ json?: boolean }>().json === true;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; every other parse failure is a usage error.
      if (err.exitCode === 0) return ExitCode.ok;
      if (wantsJson(argv, json)) printJsonError('USAGE', err.message.replace(/^error: /, ''), { commander: err.code }, ExitCode.usage);
      return ExitCode.usage;
    }
    const e = toCordonError(err);
    process.stderr.write(`cordon: ${e.code}: ${e.message}\n`);
    if (e.code === 'INTERNAL') process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    // The same error for a program reading stdout: it never has to parse the stderr line.
    if (wantsJson(argv, json)) printJsonError(e.code, e.message, e.code === 'INTERNAL' ? {} : e.details, e.exitCode);
    return e.exitCode;
  }
}
