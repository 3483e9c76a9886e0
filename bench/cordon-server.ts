import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'src', 'cli', 'main.ts');
/** Tokens live at most auth.maxTokenLifetimeSec (300 s); a bench phase asks for a fresh one well before. */
const TOKEN_TTL_SEC = 300;
const TOKEN_REFRESH_MS = 120_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * `cordon serve` as deployed: its own process (node src/cli/main.ts, so the PID
 * we hold is the server's), a throwaway data directory, a free loopback port.
 * Its isolate hosts are its child processes; we find them through /proc.
 */
export interface CordonServer {
  readonly url: string;
  /** The server's data directory (agents' keys under agents/, the audit log under audit/). */
  readonly dataDir: string;
  /** The operator listener (approvals), once it printed where it listens. */
  operatorUrl(): string | null;
  readonly pid: number;
  /** A bearer token for agent `local`, minted again when the last one is getting old. */
  token(): Promise<string>;
  /** PIDs of the server's isolate hosts, oldest first. */
  hostPids(): number[];
  /** VmRSS of the server plus every isolate host, in MB. */
  rssMb(): number;
  /** CPU time (user + system) the server process itself has used so far, in ms (10 ms resolution). */
  cpuMs(): number;
  /** Isolate hosts the server logged as exited: PID → the agent it served (null: an unowned spare). */
  readonly hostExits: ReadonlyMap<number, string | null>;
  stop(): Promise<void>;
}

export interface ServerSettings {
  /** YAML under `sandbox.isolate:` (indented by four spaces). */
  readonly isolate: Record<string, number | string>;
  /** Live session sandboxes one principal may hold of profile `js`. */
  readonly maxSessionsPerPrincipal: number;
  /** More shipped profiles to serve beside `js` (e.g. `python`, with its warm pool). */
  readonly profiles?: readonly string[];
  /** Files to write into the server's directory first (relative path → content): profiles, policies. */
  readonly files?: Readonly<Record<string, string>>;
  /** Top-level YAML appended to cordon.yaml (e.g. `policyDir:` and `egress:` for the files above). */
  readonly configExtra?: string;
}

export async function startCordonServer(settings: ServerSettings): Promise<CordonServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-bench-'));
  // The shipped `js` profile, but one agent may hold as many sessions as the RSS bench makes.
  const profiles = join(dir, 'sandboxes');
  mkdirSync(profiles);
  const js = readFileSync(join(ROOT, 'sandboxes', 'js.yaml'), 'utf8');
  const raised = js.replace(/maxPerPrincipal: \d+/, `maxPerPrincipal: ${settings.maxSessionsPerPrincipal}`);
  if (raised === js) throw new Error('sandboxes/js.yaml has no session.maxPerPrincipal to raise');
  writeFileSync(join(profiles, 'js.yaml'), raised);
  for (const name of settings.profiles ?? []) writeFileSync(join(profiles, `${name}.yaml`), readFileSync(join(ROOT, 'sandboxes', `${name}.yaml`), 'utf8'));
  for (const [path, content] of Object.entries(settings.files ?? {})) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  const isolate = Object.entries(settings.isolate).map(([k, v]) => `    ${k}: ${v}\n`).join('');
  const config = join(dir, 'cordon.yaml');
  // The operator listener on a free port too: a bench server never takes 7071 from a running Cordon.
  writeFileSync(config, `dataDir: data\nlog:\n  level: warn\nserver:\n  port: 0\noperator:\n  port: 0\nsandbox:\n  profileDir: sandboxes\n  isolate:\n${isolate}${settings.configExtra ?? ''}`);

  // CORDON_BENCH_SERVER_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server under the bench's load.
  const extra = process.env.CORDON_BENCH_SERVER_ARGS?.split(' ').filter((a) => a !== '') ?? [];
  const child = spawn(process.execPath, ['--no-node-snapshot', ...extra, CLI, '--config', config, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  // The server's log goes on to our stderr; its "isolate host exited" lines say whose host died.
  const hostExits = new Map<number, string | null>();
  let logTail = '';
  child.stderr.on('data', (d: Buffer) => {
    process.stderr.write(d);
    const lines = (logTail + d.toString()).split('\n');
    logTail = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const entry = JSON.parse(line) as { msg?: string; pid?: number; agent?: string | null };
        if (entry.msg === 'isolate host exited' && typeof entry.pid === 'number') hostExits.set(entry.pid, entry.agent ?? null);
      } catch {
        // not a JSON log line
      }
    }
  });
  if (pid === undefined) throw new Error('cordon serve did not start');
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  let url: string;
  let operatorUrl: string | null = null;
  try {
    url = await new Promise<string>((done, fail) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        operatorUrl ??= /operator listening on (http:\/\/[^\s/]+)/.exec(out)?.[1] ?? null;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m?.[1] !== undefined) done(m[1]);
      });
      child.once('exit', (code) => fail(new Error(`cordon serve exited with ${code}`)));
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  // Keep draining stdout so the server never blocks on a full pipe.
  child.stdout.resume();

  let current: { value: string; at: number } | null = null;
  const mint = () =>
    new Promise<string>((done, fail) => {
      const t = spawn(process.execPath, ['--no-node-snapshot', CLI, '--config', config, 'token', '--agent', 'local', '--ttl', String(TOKEN_TTL_SEC)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      t.stdout.on('data', (d: Buffer) => (out += d.toString()));
      t.once('exit', (code) => (code === 0 ? done(out.trim()) : fail(new Error(`cordon token exited with ${code}`))));
    });

  const hostPids = () => childrenOf(pid).filter((p) => cmdline(p).includes('isolate-host-main')).sort((a, b) => startTicks(a) - startTicks(b));

  return {
    url,
    dataDir: join(dir, 'data'),
    operatorUrl: () => operatorUrl,
    pid,
    async token() {
      if (current === null || Date.now() - current.at > TOKEN_REFRESH_MS) current = { value: await mint(), at: Date.now() };
      return current.value;
    },
    hostPids,
    hostExits,
    rssMb: () => [pid, ...hostPids()].reduce((sum, p) => sum + rssKb(p), 0) / 1024,
    cpuMs: () => cpuTicks(pid) * (1000 / CLOCK_TICKS_PER_SEC),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pid, 'SIGTERM');
        const timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
        }, STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Direct children of a process, from /proc/<pid>/task/<tid>/children. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const tid of safe(() => readdirSync(`/proc/${pid}/task`), [] as string[])) {
    const text = safe(() => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8'), '');
    for (const p of text.split(/\s+/)) if (p !== '') out.push(Number(p));
  }
  return out;
}

function cmdline(pid: number): string {
  return safe(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '), '');
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
function startTicks(pid: number): number {
  const stat = safe(() => readFileSync(`/proc/${pid}/stat`, 'utf8'), '');
  // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[19] ?? Number.MAX_SAFE_INTEGER);
}

/** USER_HZ: /proc reports CPU times in these ticks; 100 on every Linux we run on. */
const CLOCK_TICKS_PER_SEC = 100;

/** Fields 14 and 15 of /proc/<pid>/stat: user and system CPU time, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = safe(() => readFileSync(`/proc/${pid}/stat`, 'utf8'), '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
}

function rssKb(pid: number): number {
  const status = safe(() => readFileSync(`/proc/${pid}/status`, 'utf8'), '');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
}

/** A process may exit between listing it and reading it. */
function safe<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}
