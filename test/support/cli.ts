import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The CLI as a user runs it. */
export const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'cordon');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs ./bin/cordon in `cwd` with a bare environment (PATH and HOME, plus `env`). */
export function runCli(cwd: string, args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(BIN, args, { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}
