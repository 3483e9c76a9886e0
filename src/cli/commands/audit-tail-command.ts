import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { listChainFiles } from '../../audit/chain-files.ts';
import { CordonError } from '../../core/errors.ts';
import type { Command } from 'commander';
import { followAuditLog, readAuditTail, type TailEntry } from '../../audit/tail-audit-log.ts';
import { auditLogPath } from '../../runner/audit-admin.ts';
import { loadCliConfig, usage, type GlobalOptions } from '../cli-context.ts';

const MAX_LINES = 100_000;

/**
 * A record's fields come from agents (tool names, paths, hosts): control characters, escape
 * sequences and bidirectional overrides are shown as `\u…`, so a record can neither drive the
 * operator's terminal nor make a line read differently from what it holds.
 */
function printable(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? '';
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** One record as one line a person reads: when, seq, kind, who, what, and how it ended. */
export function formatTailEntry(entry: TailEntry): string {
  if ('malformed' in entry) return `! not a record: ${printable(entry.malformed)}`;
  const r = entry.record;
  const decision = r.decision !== null && typeof r.decision === 'object' ? (r.decision as Record<string, unknown>) : null;
  const parts = [
    printable(r.ts),
    `#${printable(r.seq)}`,
    printable(r.kind),
    r.agent === null || r.agent === undefined ? '-' : printable(r.agent),
    ...(typeof r.user === 'string' ? [`for ${printable(r.user)}`] : []),
    printable(r.tool ?? r.action ?? '-'),
    ...(typeof r.resource === 'string' ? [printable(r.resource)] : []),
    `→ ${printable(r.outcome)}`,
    ...(decision === null ? [] : [`(${printable(decision.result)}${typeof decision.ruleId === 'string' ? ` ${printable(decision.ruleId)}` : ''})`]),
    ...(typeof r.count === 'number' && r.count > 1 ? [`×${r.count}`] : []),
    ...(typeof r.invocation === 'string' ? [printable(r.invocation)] : []),
  ];
  return parts.join(' ');
}

function parseLines(raw: string): number {
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_LINES) throw usage(`--lines must be a whole number from 1 to ${MAX_LINES}`, { field: 'lines' });
  return Number(raw);
}

export function registerAuditTail(audit: Command): void {
  audit
    .command('tail')
    .description('print the last records of the audit log, one line each (--json: one JSON record per line); --follow keeps printing new ones')
    .option('-n, --lines <n>', 'how many records to print first', '20')
    .option('-f, --follow', 'keep printing records as they are written, across rotations, until interrupted')
    .option('--agent <id>', 'only records of this agent')
    .option('--json', 'print each record as one line of JSON, exactly as logged')
    .option('--file <path>', 'the log to read (default: dataDir/audit/audit.jsonl from the config)')
    .action(async (opts: { lines: string; follow?: boolean; agent?: string; json?: boolean; file?: string }, cmd: Command) => {
      const count = parseLines(opts.lines);
      const path = opts.file === undefined ? auditLogPath(loadCliConfig(cmd.optsWithGlobals<GlobalOptions>())) : resolve(opts.file);
      const filter = opts.agent === undefined ? {} : { agent: opts.agent };
      const print = (entry: TailEntry): void => {
        if (opts.json === true) {
          if ('record' in entry) process.stdout.write(JSON.stringify(entry.record) + '\n');
          else process.stderr.write(`${formatTailEntry(entry)}\n`);
        } else {
          process.stdout.write(formatTailEntry(entry) + '\n');
        }
      };
      if (opts.follow !== true && !listChainFiles(path).some((f) => existsSync(f))) {
        throw new CordonError('NOT_FOUND', `no audit log at ${path}; a runner writes one under its data directory (dataDir/audit/audit.jsonl)`, { details: { path } });
      }
      for (const entry of readAuditTail(path, count, filter)) print(entry);
      if (opts.follow !== true) return;
      const stop = new AbortController();
      const end = () => stop.abort();
      process.once('SIGINT', end);
      process.once('SIGTERM', end);
      await followAuditLog(path, print, { ...filter, signal: stop.signal });
    });
}
