import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../../core/errors.ts';
import { createLogger, type LogLevel } from '../../core/logger.ts';
import type { CordonConfig } from '../../config/config-schema.ts';
import { mintLocalToken } from '../../runner/local-agents.ts';
import { localExchangeParams } from '../../runner/local-users.ts';
import type { InvocationResult } from '../../runner/runner.ts';
import { loadCliConfig, printJson, usage, type GlobalOptions } from '../cli-context.ts';

interface RunOptions {
  input?: string;
  lang?: string;
  agent: string;
  user?: string;
  json?: boolean;
  timeoutMs?: string;
  memoryMb?: string;
  profile?: string;
  workspace?: string;
}

/** Builds the tool input from --input, or from the `code` shorthand (`--lang js 'SOURCE'`, `-` for stdin). */
function buildInput(tool: string, source: string | undefined, opts: RunOptions): unknown {
  if (opts.input !== undefined) {
    if (source !== undefined || opts.lang !== undefined) throw usage('give either --input JSON or the code shorthand (--lang and SOURCE), not both');
    try {
      return JSON.parse(opts.input === '-' ? readFileSync(0, 'utf8') : opts.input);
    } catch {
      throw usage('--input is not valid JSON');
    }
  }
  if (tool !== 'code') throw usage(`tool "${tool}" takes --input JSON`);
  if (source === undefined) throw usage("give the source to run: cordon run code --lang js 'console.log(1)' (or - to read stdin)");
  const lang = opts.lang ?? 'javascript';
  // The code tool itself knows the aliases (js), on the API as here.
  const input: Record<string, unknown> = { language: lang, source: source === '-' ? readFileSync(0, 'utf8') : source };
  for (const [flag, key, raw] of [['--timeout-ms', 'timeoutMs', opts.timeoutMs], ['--memory-mb', 'memoryMb', opts.memoryMb]] as const) {
    if (raw === undefined) continue;
    if (!/^\d{1,9}$/.test(raw)) throw usage(`${flag} must be a positive integer`);
    input[key] = Number(raw);
  }
  return input;
}

/** --workspace DIR: an existing directory, taken as the user's own (it is never removed). */
function workspaceDir(dir: string): string {
  const path = resolve(dir);
  const st = statSync(path, { throwIfNoEntry: false });
  if (st === undefined) throw usage(`--workspace ${JSON.stringify(dir)}: no such directory`);
  if (!st.isDirectory()) throw usage(`--workspace ${JSON.stringify(dir)} is not a directory`);
  return path;
}

function printHuman(result: InvocationResult): void {
  const out = result.output as { stdout?: unknown; stderr?: unknown; value?: unknown; error?: { name?: string; message?: string; line?: number; column?: number }; truncated?: unknown } | null;
  if (typeof out?.stdout !== 'string') return printJson(result.output);
  process.stdout.write(out.stdout);
  if (typeof out.stderr === 'string') process.stderr.write(out.stderr);
  if (result.status === 'ok' && out.value !== undefined) process.stdout.write(JSON.stringify(out.value) + '\n');
  if (out.truncated === true) process.stderr.write('cordon: output truncated at the configured limit\n');
  if (result.status !== 'ok') {
    const at = out.error?.line === undefined ? '' : ` (line ${out.error.line}${out.error.column === undefined ? '' : `, column ${out.error.column}`})`;
    const detail = out.error === undefined ? '' : `: ${out.error.name ?? 'Error'}: ${out.error.message ?? ''}${at}`;
    process.stderr.write(`cordon: ${result.status}${detail}\n`);
  }
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run a tool once through the full pipeline (auth, validation, policy, sandbox, audit)')
    .argument('<tool>', 'tool name (see: cordon tools)')
    .argument('[source]', "for the code tool: the source to run, or - to read it from stdin")
    .option('--input <json>', 'the tool input as JSON (- reads it from stdin)')
    .option('--lang <language>', 'code tool shorthand: the language (js, python, sh; the profile says which it offers)')
    .option('--timeout-ms <ms>', 'code tool shorthand: wall-clock limit')
    .option('--memory-mb <mb>', 'code tool shorthand: memory limit')
    .option('--profile <name>', 'the sandbox profile to run in (see sandboxes/); default: sandbox.defaultProfile')
    .option('--workspace <dir>', "file tools: use DIR as the sandbox's workspace root (isolate profiles; default: a fresh folder, removed after the run)")
    .option('--agent <name>', 'run as this local agent (its key signs the token)', 'local')
    .option('--user <name>', 'act for this local user: the agent exchanges a user token for a delegated one (RFC 8693)')
    .option('--json', 'print the whole result as JSON')
    .addHelpText('after', "\nExamples:\n  cordon run code --lang js 'console.log(1+1)'\n  echo '2**10' | cordon run code --lang js -\n  cordon run code --input '{\"language\":\"javascript\",\"source\":\"1+1\"}' --json\n  cordon run file.read --workspace . --input '{\"path\": \"notes.md\"}' --json\n\nExit codes: 0 ok, 1 the tool ran and failed (error, timeout, oom), 2 bad usage or input,\n3 bad config, 4 authentication, 5 denied by policy, 7 busy, 8 not found, 10 internal.")
    .action(async (tool: string, source: string | undefined, opts: RunOptions, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const loaded = loadCliConfig(globals);
      const input = buildInput(tool, source, opts);
      const workspaceRoot = opts.workspace === undefined ? undefined : workspaceDir(opts.workspace);
      // A one-shot run needs one isolate host and no spare isolates.
      const config: CordonConfig = { ...loaded, sandbox: { ...loaded.sandbox, isolate: { ...loaded.sandbox.isolate, hosts: 1, warmIsolatesPerHost: 0 } } };
      const logger = createLogger((globals.logLevel ?? 'warn') as LogLevel);
      const { createRuntime } = await import('../../runner/runtime.ts');
      const runtime = createRuntime(config, { logger, env: process.env, ...(workspaceRoot === undefined ? {} : { workspaceRoot }) });
      try {
        const profile = runtime.sandboxes.manager.profile(opts.profile ?? config.sandbox.defaultProfile);
        if (workspaceRoot !== undefined && profile?.backend === 'container') {
          throw usage(`--workspace works with isolate profiles; profile "${profile.name}" keeps its /workspace inside its container`);
        }
        const token =
          opts.user === undefined
            ? await mintLocalToken(config, opts.agent, Math.min(60, config.auth.maxTokenLifetimeSec))
            : (await runtime.tokens.issue(await localExchangeParams(config, opts.agent, opts.user))).access_token;
        const principal = await runtime.runner.authenticate(`Bearer ${token}`);
        const result = await runtime.runner.invoke(principal, { tool, input, ...(opts.profile === undefined ? {} : { profile: opts.profile }) });
        if (result.approval !== undefined) {
          // Held for an operator: it stays in the data directory's approvals; `cordon serve` runs it once approved.
          if (opts.json === true) printJson({ id: result.id, status: result.status, approval: result.approval });
          else process.stderr.write(`${result.id}: waits for approval ${result.approval.id} until ${result.approval.expiresAt} (${result.approval.reason})\n`);
          process.exitCode = ExitCode.approval;
          return;
        }
        if (opts.json === true) printJson({ id: result.id, tool: result.tool, status: result.status, output: result.output, durationMs: result.durationMs });
        else printHuman(result);
        if (result.failed) process.exitCode = 1;
      } finally {
        await runtime.close();
      }
    });
}
