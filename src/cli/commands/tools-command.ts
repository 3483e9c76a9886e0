import type { Command } from 'commander';
import { BUILTIN_TOOL_DESCRIPTORS } from '../../runner/tool-descriptors.ts';
import { printJson } from '../cli-context.ts';

export function registerToolsCommand(program: Command): void {
  program
    .command('tools')
    .description('list the tools Cordon can run')
    .option('--json', 'print names, descriptions, input schemas and annotations as JSON')
    .action((opts: { json?: boolean }) => {
      if (opts.json === true) return printJson({ tools: BUILTIN_TOOL_DESCRIPTORS });
      for (const t of BUILTIN_TOOL_DESCRIPTORS) {
        const hints = Object.entries(t.annotations).filter(([k, v]) => k.endsWith('Hint') && v === true).map(([k]) => k);
        process.stdout.write(`${t.name.padEnd(10)} ${t.description}\n${''.padEnd(10)} hints: ${hints.join(', ') || '-'}\n`);
      }
    });
}
