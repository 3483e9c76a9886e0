import { constants, createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { once } from 'node:events';
import type { Command } from 'commander';
import { ExitCode } from '../../core/errors.ts';
import { checkEgressArgs, createEgressCheckBatch, formatEgressProblem, MAX_BATCH_LINE_CHARS, testEgressDir, validateEgressDir } from '../../runner/egress-admin.ts';
import { collect, loadCliConfig, usage, type GlobalOptions } from '../cli-context.ts';
import { readLines } from '../read-lines.ts';

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
    .description('decide requests against a policy without connecting or resolving anything (exit 0 whenever it decided, 2 on bad arguments; with --exit-code, 5 on a deny)')
    .requiredOption('--policy <file>', 'the egress policy file')
    .option('--url <url>', 'a request URL (http or https)')
    .option('--connect <host:port>', 'a CONNECT tunnel target')
    .option('--method <method>', 'the request method (with --url; default GET)')
    .option('--resolve <name=ip[,ip...]>', 'what a name resolves to (repeatable); other names count as resolving to a public address', collect, [])
    .option('--batch <file|->', 'read one request a line from FILE or stdin ("-") and print one JSON decision a line')
    .option('--exit-code', 'exit 5 when a request is denied (with --batch: when any is; 2 when any line is malformed)')
    .option('--json', 'print {"decision","reason","rule","address"} as JSON')
    .addHelpText(
      'after',
      [
        '',
        'Batch lines (blank lines and # comments are skipped; at most ' + String(MAX_BATCH_LINE_CHARS) + ' characters a line):',
        '  [METHOD] URL [--resolve=IP[,IP...]]',
        '  [CONNECT] HOST:PORT [--resolve=IP[,IP...]]',
        'Each output line is {"line","input","decision","reason","rule","address"}, or {"line","input","error":{"code","message"}}',
        'for a malformed line; the batch goes on. --resolve on a line binds that line\'s host.',
        '',
        'Examples:',
        '  cordon egress check --policy egress-policies/github.yaml --url https://api.github.com/repos/acme/x --json',
        '  cordon egress check --policy p.yaml --url http://wiki.internal/ --resolve wiki.internal=10.20.0.5 --json',
        '  cordon egress check --policy egress-policies/browse-open.yaml --url https://pastebin.com/x --exit-code || echo denied',
        '  printf "GET https://pastebin.com:8080/\\nCONNECT 0.tcp.ngrok.io:14567\\n" | cordon egress check --policy egress-policies/browse-open.yaml --batch -',
      ].join('\n'),
    )
    .action(async (opts: { policy: string; url?: string; connect?: string; method?: string; resolve: string[]; batch?: string; exitCode?: boolean; json?: boolean }) => {
      if (opts.batch !== undefined) {
        if (opts.url !== undefined || opts.connect !== undefined || opts.method !== undefined) throw usage('--batch reads its requests from the file; do not also give --url, --connect or --method');
        process.exitCode = await checkBatch(opts.policy, opts.resolve, opts.batch, opts.exitCode === true);
        return;
      }
      const result = await checkEgressArgs({ policyFile: opts.policy, ...(opts.url === undefined ? {} : { url: opts.url }), ...(opts.connect === undefined ? {} : { connect: opts.connect }), ...(opts.method === undefined ? {} : { method: opts.method }), resolve: opts.resolve });
      if (opts.json === true) process.stdout.write(JSON.stringify(result) + '\n');
      else process.stdout.write(`${result.decision}: ${result.reason}${result.rule === null ? '' : ` (rule ${result.rule})`}${result.address === null ? '' : ` → ${result.address}`}\n`);
      if (opts.exitCode === true && result.decision === 'deny') process.exitCode = ExitCode.denied;
    });
}

/** One process for the whole batch: the policy is compiled once, lines are read with bounded memory. */
async function checkBatch(policyFile: string, resolveOptions: string[], source: string, exitCode: boolean): Promise<number> {
  const batch = createEgressCheckBatch({ policyFile, resolve: resolveOptions });
  let input: NodeJS.ReadableStream;
  if (source === '-') input = process.stdin;
  else {
    try {
      await access(source, constants.R_OK);
    } catch (err) {
      throw usage(`--batch ${source}: ${(err as Error).message}`);
    }
    input = createReadStream(source);
  }
  let denied = false;
  let malformed = false;
  let n = 0;
  for await (const line of readLines(input, MAX_BATCH_LINE_CHARS)) {
    const result = await batch.check(++n, line);
    if (result === null) continue;
    if ('error' in result) malformed = true;
    else if (result.decision === 'deny') denied = true;
    if (!process.stdout.write(JSON.stringify(result) + '\n')) await once(process.stdout, 'drain');
  }
  if (!exitCode) return ExitCode.ok;
  return malformed ? ExitCode.usage : denied ? ExitCode.denied : ExitCode.ok;
}
