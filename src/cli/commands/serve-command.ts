import type { Command } from 'commander';
import { CordonError } from '../../core/errors.ts';
import { createLogger, createRedactingDestination, type LogLevel } from '../../core/logger.ts';

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
import { mintLocalToken } from '../../runner/local-agents.ts';
import { loadCliConfig, type GlobalOptions } from '../cli-context.ts';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('start the runner API (default http://127.0.0.1:7070)')
    .option('--port <port>', 'TCP port (0 picks a free one); overrides server.port and CORDON_PORT')
    .option('--host <host>', 'address to listen on; overrides server.host and CORDON_HOST')
    .action(async (opts: { port?: string; host?: string }, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const config = loadCliConfig(globals, { ...(opts.port === undefined ? {} : { port: opts.port }), ...(opts.host === undefined ? {} : { host: opts.host }) });
      const logDestination = createRedactingDestination(process.stderr);
      const logger = createLogger(config.log.level as LogLevel, logDestination);
      // Loaded here, not at start-up: other commands do not pay for the HTTP stack.
      const [{ createRuntime }, { createRunnerApi }] = await Promise.all([import('../../runner/runtime.ts'), import('../../api/runner-api.ts')]);
      const runtime = createRuntime(config, { logger, env: process.env });
      logDestination.setRedaction(runtime.redactor.text);
      const app = createRunnerApi({
        runner: runtime.runner,
        tokens: runtime.tokens,
        logger,
        bodyLimitBytes: config.server.bodyLimitBytes,
        unreadBody: { maxBytes: config.server.unreadBodyDiscardBytes, maxMs: config.server.unreadBodyDiscardMs },
        // Longer than the longest call any profile allows plus its wait for a host, and than a long-poll.
        requestTimeoutMs: Math.max(runtime.maxCallMs, config.approvals.maxWaitMs) + 30_000,
        maxWaitMs: config.approvals.maxWaitMs,
      });
      let address: string;
      try {
        await runtime.startEgressProxy();
        await runtime.startSandboxes();
        address = await app.listen({ host: config.server.host, port: config.server.port });
      } catch (err) {
        await runtime.close();
        const code = (err as { code?: string }).code;
        if (code === 'EADDRINUSE') throw new CordonError('UNAVAILABLE', `port ${config.server.port} on ${config.server.host} is in use; stop the other server or pass --port`, { cause: err });
        if (code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new CordonError('CONFIG_INVALID', `cannot listen on ${config.server.host}:${config.server.port} (${code})`, { cause: err, details: { field: '/server' } });
        throw err;
      }
      if (!isLoopback(config.server.host)) {
        logger.warn({ host: config.server.host }, 'listening beyond loopback without TLS: put a TLS-terminating proxy in front');
      }
      logger.info({ address, config: config.configFile ?? 'embedded default', dataDir: config.dataDir, audit: runtime.auditPath }, 'cordon serving');

      const url = address.replace('://[::1]', '://localhost');
      runtime.addTokenEndpoint(`${url}/v1/token`);
      if (url.includes('://127.0.0.1:')) runtime.addTokenEndpoint(`${url.replace('://127.0.0.1:', '://localhost:')}/v1/token`);
      process.stdout.write(`cordon listening on ${url}\n`);
      const first = runtime.agents.list().find((a) => a.publicKey !== null && a.id === 'local') ?? null;
      if (first !== null) {
        try {
          const token = await mintLocalToken(config, first.id, config.auth.maxTokenLifetimeSec);
          process.stdout.write(
            `\ntry it (the token is valid for ${config.auth.maxTokenLifetimeSec}s; get another with: ./bin/cordon token --agent ${first.id}):\n\n` +
              `curl -s ${url}/v1/invocations -H "Authorization: Bearer ${token}" -H 'content-type: application/json' \\\n  -d '{"tool":"code","input":{"language":"javascript","source":"1+1"}}'\n\n`,
          );
        } catch {
          // Only the example line is lost: the agent's private key lives elsewhere.
        }
      }

      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'cordon stopping');
        await app.close();
        await runtime.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}
