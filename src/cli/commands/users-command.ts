import type { Command } from 'commander';
import { addLocalUser, listUsers, mintLocalUserToken } from '../../runner/local-users.ts';
import { collect, loadCliConfig, printJson, usage, type GlobalOptions } from '../cli-context.ts';

export function registerUsersCommand(program: Command): void {
  const users = program.command('users').description('local users for trying delegation without an identity provider');

  users
    .command('add')
    .description('register a local user (the embedded default signs their tokens itself)')
    .argument('<name>', 'user id')
    .option('--group <name>', 'a group the user is in (repeatable)', collect, [])
    .action((name: string, opts: { group: string[] }, cmd: Command) => {
      const user = addLocalUser(loadCliConfig(cmd.optsWithGlobals<GlobalOptions>()), name, opts.group);
      process.stdout.write(`user ${user.subject} registered (issuer ${user.issuer})${user.groups.length > 0 ? ` (groups: ${user.groups.join(', ')})` : ''}\n  then: cordon users token ${user.subject} --may-act <agent>\n`);
    });

  users
    .command('list')
    .description('list users known from the config file and local registrations (a user is issuer + subject)')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const rows = listUsers(loadCliConfig(cmd.optsWithGlobals<GlobalOptions>()));
      if (opts.json === true) return printJson({ users: rows });
      if (rows.length === 0) return void process.stdout.write('no users\n');
      for (const u of rows) process.stdout.write(`${u.subject.padEnd(24)} ${u.issuer.padEnd(24)} ${u.source.padEnd(8)} ${u.groups.join(',') || '-'}\n`);
    });

  users
    .command('token')
    .description("print a user token from Cordon's local issuer (the subject_token of a token exchange)")
    .argument('<name>', 'user id')
    .option('--may-act <agent>', 'an agent that may act for the user with this token (repeatable; sets may_act). Without it, only auth.localUsers.actors may', collect, [])
    .option('--ttl <seconds>', 'lifetime in seconds (1 to 3600)', '900')
    .action(async (name: string, opts: { mayAct: string[]; ttl: string }, cmd: Command) => {
      const ttl = Number(opts.ttl);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 3600) throw usage('--ttl must be an integer from 1 to 3600');
      process.stdout.write((await mintLocalUserToken(loadCliConfig(cmd.optsWithGlobals<GlobalOptions>()), name, { ttlSec: ttl, mayAct: opts.mayAct })) + '\n');
    });
}
