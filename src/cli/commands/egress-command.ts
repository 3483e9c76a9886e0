import type { Command } from 'commander';
import { ExitCode } from '../../core/errors.ts';
import { checkEgressArgs, formatEgressProblem, testEgressDir, validateEgressDir } from '../../runner/egress-admin.ts';
import { collect, loadCliConfig, type GlobalOptions } from '../cli-context.ts';

export function registerEgressCommand(program: Command): void {
  const egress = program.command('egress').description('validate, test and check egress policies');

  egress
    .command('validate')
    .description('load every egress policy; prints file:line: reason for each problem (exit 3 if any) and for each warning (exit 0)')
    .argument('[dir]', 'egress policy directory (default: egress.policyDir from the config)')
    .action((dir: string | undefined, _opts: unknown, cmd: Command) => {
      const target = dir ?? loadCliConfig(cmd.optsWithGlobals<GlobalOptions>()).egress.policyDir;
      const report = validateEgressDir(target);
      for (const p of [...report.problems, ...report.warnings]) process.stderr.write(formatEgressProblem(p) + '\n');
      if (!report.ok) {
        process.exitCode = ExitCode.config;
        return;
      }
      for (const p of report.policies) process.stdout.write(`${p.name.padEnd(24)} ${p.mode.padEnd(8)} ${p.allowRules} allow, ${p.denyRules} deny  ${p.file}\n`);
      process.stdout.write(`${report.policies.length} egress policies: valid\n`);
    });

  egress
    .command('test')
    .description('run the *.test.yaml cases next to the policies and print a table (exit 1 on any failure)')
    .argument('[dir]', 'egress policy directory (default: egress.policyDir from the config)')
    .action(async (dir: string | undefined, _opts: unknown, cmd: Command) => {
      const report = await testEgressDir(dir ?? loadCliConfig(cmd.optsWithGlobals<GlobalOptions>()).egress.policyDir);
      process.stdout.write(report.table.endsWith('\n') ? report.table : report.table + '\n');
      if (!report.ok) process.exitCode = ExitCode.toolFailed;
    });

  egress
    .command('check')
    .description('decide one request against a policy without connecting or resolving anything (exit 0 whenever it decided, 2 on bad arguments)')
    .requiredOption('--policy <file>', 'the egress policy file')
    .option('--url <url>', 'a request URL (http or https)')
    .option('--connect <host:port>', 'a CONNECT tunnel target')
    .option('--method <method>', 'the request method (with --url; default GET)')
    .option('--resolve <name=ip[,ip...]>', 'what a name resolves to (repeatable); other names count as resolving to a public address', collect, [])
    .option('--json', 'print {"decision","reason","rule","address"} as JSON')
    .addHelpText('after', '\nExample:\n  cordon egress check --policy egress-policies/github.yaml --url https://api.github.com/repos/acme/x --json\n  cordon egress check --policy p.yaml --url http://wiki.internal/ --resolve wiki.internal=10.20.0.5 --json')
    .action(async (opts: { policy: string; url?: string; connect?: string; method?: string; resolve: string[]; json?: boolean }) => {
      const result = await checkEgressArgs({ policyFile: opts.policy, ...(opts.url === undefined ? {} : { url: opts.url }), ...(opts.connect === undefined ? {} : { connect: opts.connect }), ...(opts.method === undefined ? {} : { method: opts.method }), resolve: opts.resolve });
      if (opts.json === true) process.stdout.write(JSON.stringify(result) + '\n');
      else process.stdout.write(`${result.decision}: ${result.reason}${result.rule === null ? '' : ` (rule ${result.rule})`}${result.address === null ? '' : ` → ${result.address}`}\n`);
    });
}
