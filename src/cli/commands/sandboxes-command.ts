import type { Command } from 'commander';
import { ExitCode } from '../../core/errors.ts';
import { BUNDLED_SANDBOX_PROFILE_DIR, formatProfileProblem, validateSandboxProfiles } from '../../sandbox/index.ts';
import { printJson } from '../cli-context.ts';

export function registerSandboxesCommand(program: Command): void {
  const sandboxes = program.command('sandboxes').description('validate sandbox profiles (sandboxes/<name>.yaml)');

  sandboxes
    .command('validate')
    .description('load every sandbox profile; prints a line per valid profile and file:line: field: reason for each problem (exit 3 if any)')
    .argument('[dir]', 'sandbox profile directory (default: the bundled sandboxes/)')
    .option('--json', 'print {"ok","dir","profiles","problems"} as JSON')
    .action((dir: string | undefined, opts: { json?: boolean }) => {
      const report = validateSandboxProfiles(dir ?? BUNDLED_SANDBOX_PROFILE_DIR);
      if (!report.ok) process.exitCode = ExitCode.config;
      if (opts.json === true) {
        printJson(report);
        return;
      }
      for (const p of report.profiles) {
        process.stdout.write(`ok  ${p.name.padEnd(20)} ${p.backend.padEnd(8)} languages ${p.languages.join(',')}; tools ${p.tools.join(',')}; egress ${p.egressPolicy ?? 'none'}  ${p.file}\n`);
      }
      for (const p of report.problems) process.stderr.write(formatProfileProblem(p) + '\n');
      const broken = new Set(report.problems.map((p) => p.file)).size;
      if (report.ok) process.stdout.write(`${report.profiles.length} sandbox profiles in ${report.dir}: valid\n`);
      else process.stderr.write(`${report.problems.length} problem(s) in ${broken} file(s) under ${report.dir}\n`);
    });
}
