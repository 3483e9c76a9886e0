import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * Debian's tinyproxy as the egress bench's peer: a C forward proxy that checks
 * nothing. It runs in the foreground on a free loopback port with a config
 * written to a temp dir, and is ended by its PID. `make bench` installs it with
 * apt-get when it is missing and we are root.
 */
export interface TinyproxyPeer {
  readonly port: number;
  /** `tinyproxy 1.11.1` */
  readonly version: string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 3000;

/** The tinyproxy binary on PATH (or in the sbin directories root's PATH would have), or null. */
export function findTinyproxy(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const file = join(dir, 'tinyproxy');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Starts tinyproxy forwarding to `upstreamAddress` only. Loopback is the whole
 * world here: it listens on and admits 127.0.0.1 only, has no Upstream proxy, and
 * a default-deny host filter lets it connect to the upstream's address and nothing
 * else; clients send IP literals, so it never resolves a name. CONNECT is off
 * (ConnectPort 0): the comparison is plain HTTP forwarding.
 */
export async function startTinyproxy(binary: string, upstreamAddress: '127.0.0.1'): Promise<TinyproxyPeer> {
  const version = execFileSync(binary, ['-v'], { encoding: 'utf8' }).trim();
  const dir = await mkdtemp(join(tmpdir(), 'cordon-tinyproxy-'));
  try {
    await writeFile(join(dir, 'allowed-hosts'), `${upstreamAddress}\n`);
    // Another process may take the free port before tinyproxy binds it; then tinyproxy exits and we try another.
    for (let attempt = 1; ; attempt++) {
      const port = await freeLoopbackPort();
      const config = [
        'Listen 127.0.0.1',
        `Port ${port}`,
        'Allow 127.0.0.1',
        'Timeout 30',
        // Above the bench's client concurrency: one thread per client connection.
        'MaxClients 256',
        `LogFile "${join(dir, 'tinyproxy.log')}"`,
        // Cordon's bench proxy audits into a no-op sink; tinyproxy logs errors only.
        'LogLevel Error',
        'DisableViaHeader Yes',
        'ConnectPort 0',
        `Filter "${join(dir, 'allowed-hosts')}"`,
        'FilterType fnmatch',
        'FilterDefaultDeny Yes',
      ].join('\n');
      await writeFile(join(dir, 'tinyproxy.conf'), `${config}\n`);
      const started = await spawnAndWait(binary, join(dir, 'tinyproxy.conf'), port);
      if (started.ok) {
        const { child } = started;
        return {
          port,
          version,
          async stop() {
            await endByPid(child);
            await rm(dir, { recursive: true, force: true });
          },
        };
      }
      if (attempt === 3) throw new Error(`tinyproxy did not start: ${started.output || 'no output'}`);
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

type Child = ReturnType<typeof spawn>;

async function spawnAndWait(binary: string, configFile: string, port: number): Promise<{ ok: true; child: Child } | { ok: false; output: string }> {
  const child = spawn(binary, ['-d', '-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-2000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  child.once('exit', () => (exited = true));
  child.once('error', (err) => {
    exited = true;
    keep(Buffer.from(String(err)));
  });
  const deadline = performance.now() + START_TIMEOUT_MS;
  while (!exited && performance.now() < deadline) {
    if (await accepts(port)) return { ok: true, child };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (!exited) await endByPid(child);
  return { ok: false, output: output.trim() };
}

/** SIGTERM to our child's PID, SIGKILL if it has not exited in time. */
async function endByPid(child: Child): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }, STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      server.close(() => resolve(port));
    });
  });
}
