import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CordonError, ExitCode } from '../../core/errors.ts';
import { auditLogPath, auditVerifierKey, verifyAudit } from '../../runner/audit-admin.ts';
import { loadCliConfig, printJson, type GlobalOptions } from '../cli-context.ts';
import { registerAuditTail } from './audit-tail-command.ts';

export function registerAuditCommand(program: Command): void {
  const audit = program.command('audit').description('check the tamper-evident audit log');

  audit
    .command('key')
    .description('print the verifier key of the audit checkpoints (C2SP note format: <origin>+<key id>+<base64 key>), for verifiers outside Cordon')
    .action((_opts: unknown, cmd: Command) => {
      process.stdout.write(`${auditVerifierKey(loadCliConfig(cmd.optsWithGlobals<GlobalOptions>()))}\n`);
    });

  audit
    .command('verify')
    .description(
      'check every record\'s hash and its link to the one before, across rotated files, and the log against its signed checkpoints (a cut tail, a re-hashed edit, a forged checkpoint); prints each problem (line, seq, kind) and exits 1 on any',
    )
    .option('--file <path>', 'the live log whose chain to check, rotated files included (default: dataDir/audit/audit.jsonl from the config)')
    .option('--from <seq>', 'check records from this seq on: the records before it, and the link into it, are trusted as written (their hashes still feed the checkpoint check)')
    .option('--key <verifier-key>', 'check checkpoints against this verifier key (what `cordon audit key` printed) instead of the data directory\'s audit key')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { file?: string; from?: string; key?: string; json?: boolean }, cmd: Command) => {
      const from = opts.from === undefined ? undefined : parseFrom(opts.from);
      const config = loadCliConfig(cmd.optsWithGlobals<GlobalOptions>());
      const path = opts.file === undefined ? auditLogPath(config) : resolve(opts.file);
      const report = await verifyAudit(config, path, { ...(from === undefined ? {} : { from }), ...(opts.key === undefined ? {} : { verifierKey: opts.key }) });
      if (opts.json === true) {
        printJson({ path, ...report });
      } else {
        for (const p of report.problems) {
          const where = p.line === 0 ? (p.file ?? path) : `${p.file === undefined || p.file === path ? '' : `${p.file} `}line ${p.line}${p.seq === null ? '' : ` (seq ${p.seq})`}`;
          process.stdout.write(`${where}: ${p.kind}: ${p.detail}\n`);
        }
        const t = report.tornTail;
        if (t !== null) process.stdout.write(`${t.file} line ${t.line}: torn last line of ${t.bytes} bytes (a write a crash interrupted, never acknowledged); the runner cuts it off when it next opens the log\n`);
        const head = report.head === null ? 'empty' : `head seq ${report.head.seq} ${report.head.hash}`;
        const files = report.files.length === 1 ? '' : ` (${report.files.length} files)`;
        const signed = report.checkpoints.length === 0 ? 'no signed checkpoint (a cut tail cannot be found)' : `checked against ${report.checkpoints.length} signed checkpoint(s), latest of ${Math.max(...report.checkpoints.map((c) => c.size))} records`;
        process.stdout.write(`${report.ok ? 'ok' : 'TAMPERED'}: ${report.records} records in ${path}${files}; ${head}; ${signed}${from === undefined ? '' : `; records before seq ${from} trusted`}\n`);
      }
      if (!report.ok) process.exitCode = ExitCode.toolFailed;
    });

  registerAuditTail(audit);
}

function parseFrom(raw: string): number {
  const n = /^[1-9][0-9]{0,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new CordonError('USAGE', `--from takes a record's seq, a whole number from 1 (got ${JSON.stringify(raw.slice(0, 32))})`);
  return n;
}
