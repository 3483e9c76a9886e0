import type { Command } from 'commander';
import { CordonError, ExitCode } from '../../core/errors.ts';
import { checkReloadFiles, formatReloadProblem, type ReloadProblem } from '../../runner/reload/index.ts';
import { loadCliConfig, printJson, type GlobalOptions } from '../cli-context.ts';
import { findServingProcess, readReloadStatus, type ReloadStatus } from '../serve-state.ts';

/** How long `cordon reload` waits for the server's answer: a reload reads and compiles a few folders. */
const DEFAULT_WAIT_MS = 30_000;
const POLL_MS = 50;

export function registerReloadCommand(program: Command): void {
  program
    .command('reload')
    .description('make the running `cordon serve` re-read agents, users, Cedar and egress policies (checked first: a bad file keeps the old set and is named)')
    .option('--json', 'print the result as JSON')
    .option('--wait-ms <ms>', `how long to wait for the server's answer (default ${DEFAULT_WAIT_MS})`)
    .addHelpText(
      'after',
      [
        '',
        'The files are checked here first, with the loaders the server uses; a problem is printed',
        '(file:line: reason) and nothing is signalled (exit 3). Then the server serving this data',
        'directory (found by <dataDir>/serve.pid) gets SIGHUP, and its answer is printed. Ports,',
        'limits, folders and keys are read at start-up only: the answer lists any that changed.',
        '',
        'Exit codes: 0 applied; 3 refused (each problem printed; the server keeps its old set);',
        '7 no server runs for this data directory, or it did not answer in time.',
        '',
        'Example:',
        '  cordon reload && curl -s http://127.0.0.1:7070/healthz',
      ].join('\n'),
    )
    .action(async (opts: { json?: boolean; waitMs?: string }, cmd: Command) => {
      const json = opts.json === true;
      const waitMs = opts.waitMs === undefined ? DEFAULT_WAIT_MS : Number(opts.waitMs);
      if (!Number.isSafeInteger(waitMs) || waitMs < 0 || waitMs > 600_000) throw new CordonError('USAGE', '--wait-ms must be a whole number of milliseconds from 0 to 600000');
      const config = loadCliConfig(cmd.optsWithGlobals<GlobalOptions>());

      const checked = checkReloadFiles(config);
      if (checked.problems.length > 0) {
        if (json) printJson({ ok: false, stage: 'check', problems: checked.problems });
        else printProblems(checked.problems, 'the files do not load; nothing was reloaded');
        process.exitCode = ExitCode.config;
        return;
      }

      const server = findServingProcess(config.dataDir);
      if (server === null) {
        throw new CordonError('UNAVAILABLE', `no cordon serve is running for data directory ${config.dataDir} (no live serve.pid there); the files are valid and a server reads them when it starts`, { details: { reason: 'no_server', dataDir: config.dataDir } });
      }
      const signalledAt = Date.now();
      try {
        process.kill(server.pid, 'SIGHUP');
      } catch (err) {
        throw new CordonError('UNAVAILABLE', `cannot signal the server (pid ${server.pid}): ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err, details: { reason: 'no_server', pid: server.pid } });
      }
      const status = await waitForStatus(config.dataDir, server.runner, signalledAt, waitMs);
      if (status === null) {
        throw new CordonError('UNAVAILABLE', `the server (pid ${server.pid}) did not report a reload within ${waitMs} ms; its log says why`, { details: { reason: 'no_answer', pid: server.pid } });
      }
      const { runner: _runner, ...result } = status;
      if (json) printJson(result);
      else printResult(status);
      if (!status.ok) process.exitCode = ExitCode.config;
    });
}

/** The server's answer: a status of this very process, from a reload that began after the signal. */
async function waitForStatus(dataDir: string, runner: string, since: number, waitMs: number): Promise<ReloadStatus | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const status = readReloadStatus(dataDir);
    if (status !== null && status.runner === runner && Date.parse(status.at) >= since) return status;
    if (Date.now() >= deadline) return null;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function printProblems(problems: readonly ReloadProblem[], headline: string): void {
  process.stderr.write(`cordon: CONFIG_INVALID: ${headline}:\n`);
  for (const p of problems) process.stderr.write(`  ${formatReloadProblem(p)}\n`);
}

function printResult(s: ReloadStatus): void {
  if (!s.ok) {
    printProblems(s.problems, `the server refused reload ${s.generation} and still serves policy set ${s.policyVersion}`);
  } else {
    process.stdout.write(`reloaded (generation ${s.generation}): policy set ${s.policyVersion}\n`);
    for (const c of s.changes) process.stdout.write(`  ${c}\n`);
    if (s.changes.length === 0) process.stdout.write('  nothing changed\n');
    for (const w of s.warnings) process.stdout.write(`  warning: ${formatReloadProblem(w)}\n`);
  }
  for (const r of s.needsRestart) process.stdout.write(`  ${r}\n`);
}
