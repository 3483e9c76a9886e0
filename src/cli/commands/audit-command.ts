import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../../core/errors.ts';
import { auditLogPath, auditVerifierKey, verifyAudit } from '../../runner/audit-admin.ts';
import { loadCliConfig, printJson, type GlobalOptions } from '../cli-context.ts';

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
    .description('check every record\'s hash and its link to the one before; prints each problem (line, seq, kind) and exits 1 on any')
    .option('--file <path>', 'the log to check (default: dataDir/audit/audit.jsonl from the config)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { file?: string; json?: boolean }, cmd: Command) => {
      const path = opts.file === undefined ? auditLogPath(loadCliConfig(cmd.optsWithGlobals<GlobalOptions>())) : resolve(opts.file);
      const report = await verifyAudit(path);
      if (opts.json === true) {
        printJson({ path, ...report });
      } else {
        for (const p of report.problems) process.stdout.write(`line ${p.line}${p.seq === null ? '' : ` (seq ${p.seq})`}: ${p.kind}: ${p.detail}\n`);
        const head = report.head === null ? 'empty' : `head seq ${report.head.seq} ${report.head.hash}`;
        process.stdout.write(`${report.ok ? 'ok' : 'TAMPERED'}: ${report.records} records in ${path}; ${head}\n`);
      }
      if (!report.ok) process.exitCode = ExitCode.toolFailed;
    });
}
