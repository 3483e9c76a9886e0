import { once } from 'node:events';
import type { Command } from 'commander';
import type { CordonConfig } from '../../config/config-schema.ts';
import { createLogger, type LogLevel } from '../../core/logger.ts';
import type { Principal } from '../../core/principal.ts';
import { mintLocalToken } from '../../runner/local-agents.ts';
import { localExchangeParams } from '../../runner/local-users.ts';
import { loadCliConfig, type GlobalOptions } from '../cli-context.ts';

interface McpOptions {
  agent: string;
  user?: string;
}

/** A principal is renewed this long before its token runs out, so no call starts on a dying one. */
const RENEW_BEFORE_SEC = 30;

export function registerMcpCommand(program: Command): void {
  program
    .command('mcp')
    .description('serve MCP over stdin/stdout as a local agent (for MCP clients that start a process)')
    .option('--agent <name>', 'act as this local agent (its key under the data directory signs its tokens)', 'local')
    .option('--user <name>', 'act for this local user: the agent exchanges a user token for a delegated one (RFC 8693)')
    .addHelpText(
      'after',
      '\nstdout carries the protocol only; logs go to stderr. The process ends when stdin closes.\n\nExample (an MCP client config):\n  {"command": "cordon", "args": ["mcp", "--agent", "local"]}',
    )
    .action(async (opts: McpOptions, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const loaded = loadCliConfig(globals);
      const config: CordonConfig = { ...loaded, sandbox: { ...loaded.sandbox, isolate: { ...loaded.sandbox.isolate, hosts: 1 } } };
      // stderr only: a stray byte on stdout would corrupt the protocol stream.
      const logger = createLogger((globals.logLevel ?? 'warn') as LogLevel, process.stderr);
      const [{ createRuntime }, { createMcpServer }, { serveStdio }] = await Promise.all([
        import('../../runner/runtime.ts'),
        import('../../api/mcp/mcp-server.ts'),
        import('@modelcontextprotocol/server/stdio'),
      ]);
      const runtime = createRuntime(config, { logger, env: process.env });
      try {
        // The CLI is a local agent: it signs its own short-lived token with the agent's key and
        // has Cordon verify it, exactly as a remote agent's token is; a fresh one when it runs out.
        const ttlSec = config.auth.maxTokenLifetimeSec;
        const signIn = async (): Promise<Principal> => {
          const token =
            opts.user === undefined
              ? await mintLocalToken(config, opts.agent, ttlSec)
              : (await runtime.tokens.issue(await localExchangeParams(config, opts.agent, opts.user))).access_token;
          return runtime.runner.authenticate(`Bearer ${token}`);
        };
        let current = await signIn();
        const principal = async () => {
          if (current.expiresAt - Date.now() / 1000 < RENEW_BEFORE_SEC) current = await signIn();
          return current;
        };
        const handle = serveStdio(() => createMcpServer({ runner: runtime.runner, principal, logger }), {
          onerror: (err) => logger.warn({ err }, 'mcp stdio error'),
        });
        logger.info({ agent: opts.agent, user: opts.user ?? null }, 'cordon mcp serving on stdio');
        // Ends when the client closes stdin (or a signal asks us to stop).
        await Promise.race([once(process.stdin, 'end'), once(process.stdin, 'close'), once(process, 'SIGINT'), once(process, 'SIGTERM')]);
        await handle.close();
      } finally {
        await runtime.close();
      }
    });
}
