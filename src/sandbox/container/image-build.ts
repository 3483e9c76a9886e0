import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, chownSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { CordonError } from '../../core/errors.ts';
import type { DebianArchive } from './apt-sources.ts';
import { imageTag, type ImageRecipe } from './image-recipe.ts';

export interface BuildImageOptions {
  readonly archive: DebianArchive;
  /** Where the root file system is assembled (removed afterwards). */
  readonly workDir: string;
  /** Build even when an image of this recipe exists. */
  readonly force?: boolean;
  /** One line per step, for a terminal. */
  readonly onProgress?: (line: string) => void;
}

export interface BuiltImage {
  readonly name: string;
  readonly tag: string;
  /** True when the image was already there and nothing was built. */
  readonly cached: boolean;
  readonly durationMs: number;
}

/** Whether the engine has an image with this tag. */
export async function hasImage(docker: Docker, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

/**
 * Builds a recipe's image with no registry: debootstrap a minimal Debian root from the
 * machine's own archive, add the unprivileged user and /workspace, drop apt's caches, and
 * import the tree through the Engine API as `cordon/<name>:<recipe hash>`.
 */
export async function buildImage(docker: Docker, recipe: ImageRecipe, options: BuildImageOptions): Promise<BuiltImage> {
  const started = performance.now();
  const tag = imageTag(recipe, options.archive.suite);
  const progress = options.onProgress ?? (() => {});
  if (options.force !== true && (await hasImage(docker, tag))) {
    return { name: recipe.name, tag, cached: true, durationMs: performance.now() - started };
  }
  mkdirSync(options.workDir, { recursive: true });
  const work = mkdtempSync(join(options.workDir, `${recipe.name}-`));
  const root = join(work, 'rootfs');
  try {
    progress(`${recipe.name}: debootstrap ${options.archive.suite} (minbase${recipe.packages.length > 0 ? ` + ${recipe.packages.join(' ')}` : ''}) from ${options.archive.uri}`);
    const include = recipe.packages.length > 0 ? [`--include=${recipe.packages.join(',')}`] : [];
    await runStep('debootstrap', ['--variant=minbase', ...include, options.archive.suite, root, options.archive.uri], (line) => {
      if (line.startsWith('I: Retrieving') || line.startsWith('I: Validating') || line.startsWith('I: Unpacking') || line.startsWith('I: Configuring')) return;
      progress(`${recipe.name}: ${line}`);
    });
    progress(`${recipe.name}: user ${recipe.user.name} (${recipe.user.uid}), /workspace`);
    const { name, uid } = recipe.user;
    appendFileSync(join(root, 'etc/passwd'), `${name}:x:${uid}:${uid}::/workspace:/usr/sbin/nologin\n`);
    appendFileSync(join(root, 'etc/group'), `${name}:x:${uid}:\n`);
    mkdirSync(join(root, 'workspace'), { mode: 0o755 });
    chownSync(join(root, 'workspace'), uid, uid);
    // What apt downloaded is not part of a sandbox: smaller image, nothing stale to read.
    for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
      for (const entry of readdirSync(join(root, dir))) if (entry !== 'partial' && entry !== 'lock') rmSync(join(root, dir, entry), { recursive: true, force: true });
    }
    progress(`${recipe.name}: import as ${tag}`);
    const [repo, version] = tag.split(':') as [string, string];
    const tar = spawn('tar', ['--numeric-owner', '-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tarDone = waitForExit(tar, 'tar');
    const response = (await docker.importImage(tar.stdout, { repo, tag: version })) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(response, (err: Error | null, events: { error?: string }[]) => {
        const failed = events?.find((e) => typeof e.error === 'string');
        if (err !== null || failed !== undefined) reject(new CordonError('SANDBOX_FAILED', `importing ${tag} failed: ${err?.message ?? failed?.error ?? ''}`, { cause: err }));
        else resolve();
      });
    });
    await tarDone;
    if (!(await hasImage(docker, tag))) throw new CordonError('SANDBOX_FAILED', `the engine did not keep the imported image ${tag}`);
    return { name: recipe.name, tag, cached: false, durationMs: performance.now() - started };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Runs a build step (an argument list, never a shell); its output goes to `onLine`, its failure is typed. */
function runStep(command: string, args: readonly string[], onLine: (line: string) => void): Promise<void> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });
  const tail: string[] = [];
  let partial = '';
  const onData = (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      onLine(line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return waitForExit(child, command, tail);
}

function waitForExit(child: ReturnType<typeof spawn>, command: string, tail: readonly string[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new CordonError('SANDBOX_UNAVAILABLE', `${command} could not start (${(err as NodeJS.ErrnoException).code ?? err.message}); install it (Debian: apt-get install debootstrap)`, { cause: err })));
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new CordonError('SANDBOX_FAILED', `${command} failed (${signal ?? `exit ${code}`}): ${tail.slice(-5).join(' | ').slice(0, 1000)}`));
    });
  });
}
