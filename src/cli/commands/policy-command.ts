import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../../core/errors.ts';
import { explainCall, formatPolicyProblem, parseSessionFacts, testPolicyDir, validatePolicyDir } from '../../runner/policy-admin.ts';
import { collect, loadCliConfig, printJson, usage, type GlobalOptions } from '../cli-context.ts';

export function registerPolicyCommand(program: Command): void {
  const policy = program.command('policy').description('validate, test and explain the Cedar policies');

  policy
    .command('validate')
    .description('check every policy against the schema (strict); prints file:line:column: reason for each problem')
    .argument('[dir]', 'policy directory (default: policyDir from the config)')
    .action((dir: string | undefined, _opts: unknown, cmd: Command) => {
      const target = dir === undefined ? loadCliConfig(cmd.optsWithGlobals<GlobalOptions>()).policyDir : resolve(dir);
      const result = validatePolicyDir(target);
      for (const p of result.problems) process.stderr.write(formatPolicyProblem(p) + '\n');
      if (!result.ok) {
        process.exitCode = ExitCode.config;
        return;
      }
      process.stdout.write(`${result.policySet?.policies.length ?? 0} policies in ${target}: valid\n`);
    });

  policy
    .command('test')
    .description('run the YAML cases in <dir>/tests and print a table; exits 1 on any failure')
    .argument('[dir]', 'policy directory (default: policyDir from the config)')
    .option('--json', 'print the results as JSON')
    .action(async (dir: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const config = loadCliConfig(cmd.optsWithGlobals<GlobalOptions>());
      const report = await testPolicyDir(config, dir === undefined ? config.policyDir : resolve(dir));
      if (opts.json === true) {
        printJson({ ok: report.ok, passed: report.passed, failed: report.failed, unexercised: report.unexercised, results: report.results.map(({ decision: _d, ...r }) => r) });
      } else {
        process.stdout.write(report.table.endsWith('\n') ? report.table : report.table + '\n');
      }
      if (!report.ok) process.exitCode = ExitCode.toolFailed;
    });

  policy
    .command('explain')
    .description('show the decision for a call, and why, without running anything')
    .requiredOption('--agent <id>', 'the calling agent')
    .option('--user <id>', 'the user the agent acts for (delegated call): a local user, or <issuer>#<subject>')
    .requiredOption('--tool <name>', 'the tool')
    .requiredOption('--input <json>', 'the tool input as JSON')
    .option('--profile <name>', 'the sandbox profile the call runs in (default: sandbox.defaultProfile)')
    .option('--session-fact <fact>', 'sensitive_read, untrusted_content, calls=N or egress_host=HOST (repeatable)', collect, [])
    .option('--json', 'print the decision details as JSON')
    .action((opts: { agent: string; user?: string; tool: string; input: string; profile?: string; sessionFact: string[]; json?: boolean }, cmd: Command) => {
      const config = loadCliConfig(cmd.optsWithGlobals<GlobalOptions>());
      let input: unknown;
      try {
        input = JSON.parse(opts.input === '-' ? readFileSync(0, 'utf8') : opts.input);
      } catch {
        throw usage('--input is not valid JSON');
      }
      if (opts.profile !== undefined && !/^[a-z0-9][a-z0-9._-]{0,62}$/.test(opts.profile)) throw usage('--profile must be a sandbox profile name (lower-case letters, digits, ".", "_", "-")');
      const result = explainCall(config, { agent: opts.agent, user: opts.user ?? null, tool: opts.tool, input, facts: parseSessionFacts(opts.sessionFact), ...(opts.profile === undefined ? {} : { profile: opts.profile }) });
      if (opts.json === true) printJson(result.details);
      else process.stdout.write(result.text.endsWith('\n') ? result.text : result.text + '\n');
    });
}
