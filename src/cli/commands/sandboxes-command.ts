import type { Command } from 'commander';
import { ExitCode } from '../../core/errors.ts';
import { loadEgressPolicies } from '../../egress/index.ts';
import { formatProfileProblem, validateSandboxProfiles } from '../../sandbox/index.ts';
import { BUILTIN_TOOLS } from '../../tools/builtin-tools.ts';
import { loadCliConfig, printJson, type GlobalOptions } from '../cli-context.ts';

export function registerSandboxesCommand(program: Command): void {
  const sandboxes = program.command('sandboxes').description('validate sandbox profiles (sandboxes/<name>.yaml)');

  sandboxes
    .command('validate')
    .description('load every sandbox profile; prints a line per valid profile and file:line: field: reason for each problem (exit 3 if any)')
    .argument('[dir]', 'sandbox profile directory (default: sandbox.profileDir from the config, else the bundled sandboxes/)')
    .option('--json', 'print {"ok","dir","profiles","problems"} as JSON')
    .action((dir: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const config = loadCliConfig(cmd.optsWithGlobals<GlobalOptions>());
      // Tools and egress policies a profile names must exist, as `cordon serve` checks at start.
      const references = { tools: new Set(BUILTIN_TOOLS.map((t) => t.name)), egressPolicies: new Set(loadEgressPolicies(config.egress.policyDir).keys()) };
      const report = validateSandboxProfiles(dir ?? config.sandbox.profileDir, references);
      if (!report.ok) process.exitCode = ExitCode.config;
      if (opts.json === true) {
        printJson(report);
        return;
      }
      const broken = new Set(report.problems.map((p) => p.file));
      for (const p of report.profiles.filter((x) => !broken.has(x.file))) {
        process.stdout.write(`ok  ${p.name.padEnd(20)} ${p.backend.padEnd(8)} languages ${p.languages.join(',')}; tools ${p.tools.join(',')}; egress ${p.egressPolicy ?? 'none'}  ${p.file}\n`);
      }
      for (const p of report.problems) process.stderr.write(formatProfileProblem(p) + '\n');
      if (report.ok) process.stdout.write(`${report.profiles.length} sandbox profiles in ${report.dir}: valid\n`);
      else process.stderr.write(`${report.problems.length} problem(s) in ${broken.size} file(s) under ${report.dir}\n`);
    });
}
