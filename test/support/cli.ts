import { spawn, type ChildProcess } from 'node:child_process';
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

/** A `cordon serve` started on a free loopback port, with the URL and the local agent's token it printed. */
export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly token: string;
}

/**
 * Starts `cordon serve --port 0` in `cwd` with `env`; resolves once it printed where it listens.
 * The child goes into `started` at once, so a test's cleanup can end it even if it never got there.
 */
export async function startServe(cwd: string, env: Record<string, string>, started: ChildProcess[]): Promise<ServeProcess> {
  const child = spawn(BIN, ['serve', '--port', '0', '--operator-port', '0'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let out = '';
  const found = await new Promise<{ url: string; token: string }>((done, fail) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /cordon listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      const token = /Authorization: Bearer ([\w.-]+)/.exec(out)?.[1];
      if (url !== undefined && token !== undefined) done({ url, token });
    });
    child.on('exit', (code) => fail(new Error(`serve exited ${code}`)));
  });
  return { child, ...found };
}
