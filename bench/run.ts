import { existsSync } from 'node:fs';
import { runIsolateBench } from './isolate-bench.ts';

// `make bench`: every benchmark in one process, one JSON object on stdout.
// Progress goes to stderr so stdout stays machine-readable.
const durationSec = Number(process.env.CORDON_BENCH_SECONDS ?? 10);
const results: Record<string, number | string> = { node: process.version, cpus: (await import('node:os')).availableParallelism() };

const suites: [string, () => Promise<Record<string, number>>][] = [['isolate', () => runIsolateBench(durationSec)]];
for (const [name, file, fn] of [
  ['policy', './policy-bench.ts', 'runPolicyBench'],
  ['egress', './egress-bench.ts', 'runEgressBench'],
] as const) {
  if (existsSync(new URL(file, import.meta.url))) {
    suites.push([name, async () => ((await import(file)) as Record<string, () => Promise<Record<string, number>>>)[fn]!()]);
  }
}

for (const [name, run] of suites) {
  process.stderr.write(`bench: ${name}…\n`);
  Object.assign(results, await run());
}
process.stdout.write(JSON.stringify(results) + '\n');
