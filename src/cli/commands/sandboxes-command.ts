import type { Command } from 'commander';
import { join } from 'node:path';
import { CordonError, ExitCode } from '../../core/errors.ts';
import { loadEgressPolicies } from '../../egress/index.ts';
import { buildImage, BUNDLED_IMAGE_RECIPE_DIR, connectDocker, formatProfileProblem, listCordonContainers, loadImageRecipes, parseDockerHost, readDebianArchive, removeOrphanContainers, validateSandboxProfiles, type BuiltImage } from '../../sandbox/index.ts';
import { BUILTIN_TOOLS } from '../../tools/builtin-tools.ts';
import { loadCliConfig, printJson, type GlobalOptions } from '../cli-context.ts';

export function registerSandboxesCommand(program: Command): void {
  const sandboxes = program.command('sandboxes').description('validate sandbox profiles (sandboxes/<name>.yaml) and build their images');

  sandboxes
    .command('validate')
    .description('load every sandbox profile; prints a line per valid profile and file:line: field: reason for each problem (exit 3 if any)')
    .argument('[dir]', 'sandbox profile directory (default: sandbox.profileDir from the config, else the bundled sandboxes/)')
    .option('--json', 'print {"ok","dir","profiles","problems"} as JSON')
    .action((dir: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const config = loadCliConfig(cmd.optsWithGlobals<GlobalOptions>());
      // Tools, egress policies and image recipes a profile names must exist, as `cordon serve` checks at start.
      const references = {
        tools: new Set(BUILTIN_TOOLS.map((t) => t.name)),
        egressPolicies: new Set(loadEgressPolicies(config.egress.policyDir).keys()),
        imageRecipes: new Set(loadImageRecipes(BUNDLED_IMAGE_RECIPE_DIR).keys()),
      };
      const report = validateSandboxProfiles(dir ?? config.sandbox.profileDir, references);
      if (!report.ok) process.exitCode = ExitCode.config;
      if (opts.json === true) {
        printJson(report);
        return;
      }
      const broken = new Set(report.problems.map((p) => p.file));
      for (const p of report.profiles.filter((x) => !broken.has(x.file))) {
        process.stdout.write(`ok  ${p.name.padEnd(20)} ${p.backend.padEnd(9)} languages ${p.languages.join(',')}; tools ${p.tools.join(',')}; egress ${p.egressPolicy ?? 'none'}  ${p.file}\n`);
      }
      for (const p of report.problems) process.stderr.write(formatProfileProblem(p) + '\n');
      if (report.ok) process.stdout.write(`${report.profiles.length} sandbox profiles in ${report.dir}: valid\n`);
      else process.stderr.write(`${report.problems.length} problem(s) in ${broken.size} file(s) under ${report.dir}\n`);
    });

  sandboxes
    .command('build')
    .description('build container images from their recipes (sandboxes/images/<name>.yaml) with no registry: debootstrap from this machine\'s apt sources, imported into the Docker engine (DOCKER_HOST, else the local socket); an image whose recipe did not change is not rebuilt')
    .argument('[names...]', 'recipes to build (default: all)')
    .option('--recipes <dir>', 'image recipe directory', BUNDLED_IMAGE_RECIPE_DIR)
    .option('--mirror <uri>', 'Debian archive to build from (default: the first deb source in /etc/apt)')
    .option('--suite <name>', 'Debian release to build (default: the one the apt sources name)')
    .option('--force', 'build even if an image of this recipe exists')
    .option('--json', 'no progress; print {"images":[{name,tag,cached,durationMs}]} as JSON')
    .action(async (names: string[], opts: { recipes: string; mirror?: string; suite?: string; force?: boolean; json?: boolean }, cmd: Command) => {
      const config = loadCliConfig(cmd.optsWithGlobals<GlobalOptions>());
      const recipes = loadImageRecipes(opts.recipes);
      const unknown = names.filter((n) => !recipes.has(n));
      if (unknown.length > 0) throw new CordonError('USAGE', `no image recipe named ${unknown.join(', ')}; recipes: ${[...recipes.keys()].join(', ')}`);
      const fromApt = opts.mirror === undefined || opts.suite === undefined ? readDebianArchive() : null;
      const archive = { uri: opts.mirror ?? fromApt?.uri ?? '', suite: opts.suite ?? fromApt?.suite ?? '' };
      if (!/^https?:\/\/\S+$/.test(archive.uri) || !/^[a-z]+$/.test(archive.suite)) throw new CordonError('USAGE', '--mirror must be an http(s) URI and --suite a Debian release name such as bookworm');
      const docker = await connectDocker(parseDockerHost(process.env.DOCKER_HOST));
      // Progress is for a person at a terminal; --json and pipes stay quiet.
      const onProgress = opts.json !== true && process.stderr.isTTY ? (line: string) => void process.stderr.write(`${line}\n`) : undefined;
      const built: BuiltImage[] = [];
      for (const recipe of [...recipes.values()].filter((r) => names.length === 0 || names.includes(r.name))) {
        const image = await buildImage(docker, recipe, { archive, workDir: join(config.dataDir, 'image-build'), force: opts.force === true, ...(onProgress === undefined ? {} : { onProgress }) });
        built.push(image);
        if (opts.json !== true) process.stdout.write(`${image.cached ? 'cached' : 'built '} ${image.name.padEnd(12)} ${image.tag}  ${(image.durationMs / 1000).toFixed(1)} s\n`);
      }
      if (opts.json === true) printJson({ images: built.map((b) => ({ ...b, durationMs: Math.round(b.durationMs) })) });
    });

  sandboxes
    .command('ls')
    .description('list the containers Cordon made (label cordon.sandbox), with their runner and whether it still runs')
    .option('--json', 'print {"containers":[…]} as JSON')
    .action(async (opts: { json?: boolean }) => {
      const containers = await listCordonContainers(await connectDocker(parseDockerHost(process.env.DOCKER_HOST)));
      if (opts.json === true) return printJson({ containers });
      for (const c of containers) process.stdout.write(`${c.id.slice(0, 12)}  ${c.sandbox.padEnd(32)} ${c.state.padEnd(8)} ${c.runnerAlive ? 'runner alive' : 'orphan      '}  ${c.image}\n`);
      process.stdout.write(`${containers.length} container(s)\n`);
    });

  sandboxes
    .command('gc')
    .description('remove the containers whose runner is gone (crashed or killed); a live runner\'s containers are left to it')
    .option('--json', 'print {"removed":[…]} as JSON')
    .action(async (opts: { json?: boolean }) => {
      const removed = await removeOrphanContainers(await connectDocker(parseDockerHost(process.env.DOCKER_HOST)));
      if (opts.json === true) return printJson({ removed });
      for (const c of removed) process.stdout.write(`removed ${c.id.slice(0, 12)}  ${c.sandbox}\n`);
      process.stdout.write(`${removed.length} orphan container(s) removed\n`);
    });
}
