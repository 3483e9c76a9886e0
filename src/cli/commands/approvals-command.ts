import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ApprovalVerdict, ApprovalView } from '../../approvals/approval-types.ts';
import { keyFingerprint, readEd25519PrivateKey, writePrivateFile } from '../../identity/agent-keys.ts';
import { hashPassword } from '../../identity/password-hash.ts';
import { printJson, usage } from '../cli-context.ts';
import { createOperatorClient, invocationHash } from '../operator-client.ts';

const DEFAULT_URL = 'http://127.0.0.1:7071';
const STATUSES = ['pending', 'approved', 'denied', 'expired', 'all'];

interface ClientOptions {
  key?: string;
  approver?: string;
  url: string;
  json?: boolean;
}

function clientFrom(opts: ClientOptions) {
  if (opts.key === undefined) throw usage('--key FILE is required: the approver\'s Ed25519 private key (make one with: cordon approvals keygen --out FILE)');
  if (opts.approver === undefined || !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/.test(opts.approver)) throw usage('--approver NAME is required: your name in approvals.approvers');
  if (!/^https?:\/\/[^\s/]+\/?$/.test(opts.url)) throw usage('--url must be the operator listener\'s origin, e.g. http://127.0.0.1:7071');
  return createOperatorClient({ url: opts.url, approver: opts.approver, privateKey: readEd25519PrivateKey(opts.key) });
}

const withClientOptions = (c: Command) =>
  c
    .option('--key <file>', "the approver's Ed25519 private key (PKCS8 PEM)")
    .option('--approver <name>', 'your name in approvals.approvers')
    .option('--url <url>', 'the operator listener', DEFAULT_URL)
    .option('--json', 'print JSON');

function userLine(view: ApprovalView): string {
  const u = view.invocation.user;
  return u === null ? '(none: the agent acts for itself)' : `${u.subject} (issuer ${u.issuer})`;
}

function printView(view: ApprovalView): void {
  const inv = view.invocation;
  const rows: [string, string][] = [
    ['approval', `${view.id}  ${view.status}`],
    ['tool', inv.tool],
    ['agent', inv.agent],
    ['user', userLine(view)],
    ['reason', view.reason],
    ['policy', view.policyId ?? '(none)'],
    ['expires', view.expiresAt],
    ['invocation', inv.invocation],
    ['sandbox', inv.sandbox ?? `(fresh, profile ${inv.profile ?? 'default'})`],
    ['session', inv.session ?? '(none)'],
    ['policy version', inv.policyVersion],
    ['hash', view.invocationHash],
  ];
  if (view.decidedBy !== null) rows.push(['decided', `by ${view.decidedBy} at ${view.decidedAt ?? '?'}`]);
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(15)} ${v}\n`);
  // The exact input, as JSON: a terminal shows escapes, never interprets them.
  process.stdout.write(`input (exact):\n${JSON.stringify(inv.input, null, 2)}\n`);
  if (invocationHash(view) !== view.invocationHash) process.stdout.write(`WARNING: the invocation shown hashes to ${invocationHash(view)}, not to the hash above\n`);
}

export function registerApprovalsCommand(program: Command): void {
  const approvals = program.command('approvals').description('list, show, approve and deny calls that wait for a human (talks to the operator listener, default ' + DEFAULT_URL + ')');

  withClientOptions(approvals.command('list').description('list approvals (pending by default)').option('--status <status>', STATUSES.join(', '), 'pending')).action(async (opts: ClientOptions & { status: string }) => {
    if (!STATUSES.includes(opts.status)) throw usage(`--status must be one of ${STATUSES.join(', ')}`);
    const views = await clientFrom(opts).list(opts.status === 'all' ? undefined : opts.status);
    if (opts.json === true) return printJson({ approvals: views });
    if (views.length === 0) return void process.stdout.write(`no ${opts.status === 'all' ? '' : opts.status + ' '}approvals\n`);
    for (const v of views) process.stdout.write(`${v.id}  ${v.status.padEnd(8)} ${v.invocation.tool.padEnd(16)} agent ${v.invocation.agent}  user ${userLine(v)}  expires ${v.expiresAt}\n`);
  });

  withClientOptions(approvals.command('show').description('show one approval: both principals, the tool, the exact input, the reason and the hash').argument('<id>')).action(async (id: string, opts: ClientOptions) => {
    const view = await clientFrom(opts).get(id);
    if (opts.json === true) return printJson(view);
    printView(view);
  });

  for (const [verb, decision] of [
    ['approve', 'approve'],
    ['deny', 'deny'],
  ] as const) {
    withClientOptions(approvals.command(verb).description(`${verb} a pending call: recomputes its hash from the invocation shown, signs the decision with --key here, posts it`).argument('<id>')).action(async (id: string, opts: ClientOptions) => {
      const { view, statement } = await clientFrom(opts).decide(id, decision as ApprovalVerdict);
      if (opts.json === true) return printJson({ approval: view, statement });
      process.stdout.write(`${decision === 'approve' ? 'approved' : 'denied'} ${view.id} (${view.invocation.tool} for agent ${view.invocation.agent}); status now ${view.status}\n`);
    });
  }

  withClientOptions(approvals.command('login-link').description('print a one-time link that logs this approver in on the approvals page (valid about two minutes, once)')).action(async (opts: ClientOptions) => {
    const link = await clientFrom(opts).loginLink();
    if (opts.json === true) return printJson(link);
    process.stdout.write(`${link.url}\n(one use, expires ${link.expiresAt})\n`);
  });

  approvals
    .command('keygen')
    .description("make an approver's Ed25519 key pair: the private key goes to --out (mode 0600), the public key PEM is printed for approvals.approvers")
    .requiredOption('--out <file>', 'where to write the private key (PKCS8 PEM); never overwritten')
    .option('--json', 'print {"privateKeyFile","publicKey","fingerprint"}')
    .action((opts: { out: string; json?: boolean }) => {
      if (existsSync(opts.out)) throw usage(`${opts.out} exists; keygen never overwrites a key`);
      const { privateKey } = generateKeyPairSync('ed25519');
      writePrivateFile(opts.out, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      const publicKey = createPublicKey(privateKey);
      const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
      if (opts.json === true) return printJson({ privateKeyFile: opts.out, publicKey: pem, fingerprint: keyFingerprint(publicKey) });
      process.stdout.write(`private key written to ${opts.out} (mode 0600); keep it to yourself\npublic key (${keyFingerprint(publicKey)}), for approvals.approvers[].publicKey:\n${pem}`);
    });

  approvals
    .command('hash-password')
    .description('read a password on stdin and print its scrypt hash for approvals.approvers[].passwordScrypt')
    .action(async () => {
      // stdin, not an argument: a password on the command line lands in shell history and ps.
      const raw = readFileSync(0, 'utf8');
      const password = raw.replace(/\r?\n$/, '');
      if (password.length < 12) throw usage('give a password of at least 12 characters on stdin (e.g. printf %s "$PW" | cordon approvals hash-password)');
      if (Buffer.byteLength(password) > 1024) throw usage('the password is longer than 1024 bytes');
      process.stdout.write(`${await hashPassword(password)}\n`);
    });
}
