import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../../core/errors.ts';
import { auditLogPath, verifyAudit } from '../../runner/audit-admin.ts';
import { loadCliConfig, printJson, type GlobalOptions } from '../cli-context.ts';

export function registerAuditCommand(program: Command): void {
  const audit = program.command('audit').description('check the tamper-evident audit log');

  audit
    .command('verify')
    .description('check every record\'s hash and its link to the one before, across rotated files; prints each problem (file, line, seq, kind) and exits 1 on any')
    .option('--file <path>', 'the live log whose chain to check, rotated files included (default: dataDir/audit/audit.jsonl from the config)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { file?: string; json?: boolean }, cmd: Command) => {
      const path = opts.file === undefined ? auditLogPath(loadCliConfig(cmd.optsWithGlobals<GlobalOptions>())) : resolve(opts.file);
      const report = await verifyAudit(path);
      if (opts.json === true) {
        printJson({ path, ...report });
      } else {
        for (const p of report.problems) process.stdout.write(`${p.file}:${p.line}${p.seq === null ? '' : ` (seq ${p.seq})`}: ${p.kind}: ${p.detail}\n`);
        const t = report.tornTail;
        if (t !== null) process.stdout.write(`${t.file}:${t.line}: torn last line of ${t.bytes} bytes (a write a crash interrupted, never acknowledged); the runner cuts it off when it next opens the log\n`);
        const head = report.head === null ? 'empty' : `head seq ${report.head.seq} ${report.head.hash}`;
        const files = report.files.length === 1 ? '' : ` (${report.files.length} files)`;
        process.stdout.write(`${report.ok ? 'ok' : 'TAMPERED'}: ${report.records} records in ${path}${files}; ${head}\n`);
      }
      if (!report.ok) process.exitCode = ExitCode.toolFailed;
    });
}
