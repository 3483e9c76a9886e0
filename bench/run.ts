import { existsSync } from 'node:fs';
import { runIsolateBench } from './isolate-bench.ts';

// `make bench`: every benchmark in one process, one JSON object on stdout.
// Progress goes to stderr so stdout stays machine-readable.
const results: Record<string, unknown> = { node: process.version, cpus: (await import('node:os')).availableParallelism() };

const suites: [string, () => Promise<Record<string, unknown>>][] = [['isolate', () => runIsolateBench()]];
for (const [name, file, fn] of [
  ['policy', './policy-bench.ts', 'runPolicyBench'],
  ['egress', './egress-bench.ts', 'runEgressBench'],
  ['limits', './limits-bench.ts', 'runLimitsBench'],
  ['api', './api-bench.ts', 'runApiBench'],
  ['audit', './audit-bench.ts', 'runAuditBench'],
  ['tools', './tools-bench.ts', 'runToolsBench'],
  ['browse', './browse-page-bench.ts', 'runBrowsePageBench'],
  ['container', './container-bench.ts', 'runContainerBench'],
  ['frameworks', './frameworks-bench.ts', 'runFrameworksBench'],
] as const) {
  if (existsSync(new URL(file, import.meta.url))) {
    suites.push([name, async () => ((await import(file)) as Record<string, () => Promise<Record<string, number>>>)[fn]!()]);
  }
}

// CORDON_BENCH_ONLY=isolate (comma-separated names) runs a subset while working on one area.
const only = process.env.CORDON_BENCH_ONLY?.split(',') ?? null;
for (const [name, run] of suites) {
  if (only !== null && !only.includes(name)) continue;
  process.stderr.write(`bench: ${name}…\n`);
  // One suite that fails (or overruns) is reported by name; the others' numbers still print.
  try {
    Object.assign(results, await run());
  } catch (err) {
    process.stderr.write(`bench: ${name} failed: ${(err as Error).stack ?? String(err)}\n`);
    results[`${name}_error`] = (err as Error).message;
  }
}
process.stdout.write(JSON.stringify(results) + '\n');
// The numbers are out: end here even if a suite left a handle open (one run stayed up after
// printing, its frameworks suite done), so `make bench` always returns.
process.exit(Object.keys(results).some((k) => k.endsWith('_error')) ? 1 : 0);
