import type { Command } from 'commander';
import { CordonError } from '../../core/errors.ts';
import { createLogger, createRedactingDestination, type LogLevel } from '../../core/logger.ts';

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
import { mintLocalToken } from '../../runner/local-agents.ts';
import { keepRunningOnBrokenPipe } from '../broken-pipe.ts';
import { loadCliConfig, type GlobalOptions } from '../cli-context.ts';
import { handleReloads } from '../serve-reload.ts';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('start the runner API (default http://127.0.0.1:7070)')
    .option('--port <port>', 'TCP port (0 picks a free one); overrides server.port and CORDON_PORT')
    .option('--host <host>', 'address to listen on; overrides server.host and CORDON_HOST')
    .option('--operator-port <port>', 'TCP port of the operator listener (approvals; 0 picks a free one); overrides operator.port and CORDON_OPERATOR_PORT')
    .action(async (opts: { port?: string; host?: string; operatorPort?: string }, cmd: Command) => {
      keepRunningOnBrokenPipe();
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const flags = { ...(opts.port === undefined ? {} : { port: opts.port }), ...(opts.host === undefined ? {} : { host: opts.host }), ...(opts.operatorPort === undefined ? {} : { operatorPort: opts.operatorPort }) };
      const config = loadCliConfig(globals, flags);
      const logDestination = createRedactingDestination(process.stderr);
      const logger = createLogger(config.log.level as LogLevel, logDestination);
      const reloads = handleReloads({ dataDir: config.dataDir, logger });
      // Loaded here, not at start-up: other commands do not pay for the HTTP stack.
      const [{ createRuntime }, { createRunnerApi }, operatorApi] = await Promise.all([import('../../runner/runtime.ts'), import('../../api/runner-api.ts'), import('../../api/operator/index.ts')]);
      // A reload reads the config as start-up did: the same file, environment and flags.
      const runtime = createRuntime(config, { logger, env: process.env, readConfig: () => loadCliConfig(globals, flags) });
      reloads.attach(() => runtime.reload());
      logDestination.setRedaction(runtime.redactor.text);
      const app = createRunnerApi({
        runner: runtime.runner,
        tokens: runtime.tokens,
        receipts: runtime.receipts,
        logger,
        bodyLimitBytes: config.server.bodyLimitBytes,
        unreadBody: { maxBytes: config.server.unreadBodyDiscardBytes, maxMs: config.server.unreadBodyDiscardMs },
        // Longer than the longest call any profile allows plus its wait for a host, and than a long-poll.
        requestTimeoutMs: Math.max(runtime.maxCallMs, config.approvals.maxWaitMs) + 30_000,
        maxWaitMs: config.approvals.maxWaitMs,
        ...(config.metrics.enabled ? { metrics: runtime.metrics } : {}),
        ...(config.server.publicUrl === undefined ? {} : { publicUrl: config.server.publicUrl }),
      });
      // The operator listener: its own server and port, so no route an agent can reach serves approvals.
      // It shares this runtime's approval service: a decision wakes the agent's long-poll in process.
      const operator = config.operator.enabled
        ? operatorApi.createOperatorApi({ approvals: runtime.approvals, approvers: runtime.approvers.list(), logger, host: config.operator.host })
        : null;
      let address: string;
      let operatorAddress: string | null = null;
      let listening = { host: config.server.host, port: config.server.port, flag: '--port', field: '/server' };
      try {
        await runtime.startEgressProxy();
        await runtime.startSandboxes();
        address = await app.listen({ host: config.server.host, port: config.server.port });
        if (operator !== null) {
          listening = { host: config.operator.host, port: config.operator.port, flag: '--operator-port', field: '/operator' };
          operatorAddress = await operator.listen({ host: config.operator.host, port: config.operator.port });
        }
      } catch (err) {
        reloads.dispose();
        await app.close();
        await runtime.close();
        const code = (err as { code?: string }).code;
        if (code === 'EADDRINUSE') throw new CordonError('UNAVAILABLE', `port ${listening.port} on ${listening.host} is in use; stop the other server or pass ${listening.flag}`, { cause: err });
        if (code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new CordonError('CONFIG_INVALID', `cannot listen on ${listening.host}:${listening.port} (${code})`, { cause: err, details: { field: listening.field } });
        throw err;
      }
      if (!isLoopback(config.server.host)) {
        logger.warn({ host: config.server.host }, 'listening beyond loopback without TLS: put a TLS-terminating proxy in front');
      }
      if (operator !== null && !isLoopback(config.operator.host)) {
        logger.warn({ host: config.operator.host }, 'the operator listener is reachable beyond loopback without TLS: passwords and session cookies cross the network in clear');
      }
      logger.info({ address, config: config.configFile ?? 'embedded default', dataDir: config.dataDir, audit: runtime.auditPath }, 'cordon serving');
      reloads.announce();

      const url = address.replace('://[::1]', '://localhost');
      runtime.addTokenEndpoint(`${url}/v1/token`);
      if (url.includes('://127.0.0.1:')) runtime.addTokenEndpoint(`${url.replace('://127.0.0.1:', '://localhost:')}/v1/token`);
      // The MCP metadata names this token endpoint: an assertion may be addressed to it (RFC 7523 §3).
      if (config.server.publicUrl !== undefined) runtime.addTokenEndpoint(`${config.server.publicUrl.replace(/\/+$/, '')}/v1/token`);
      process.stdout.write(`cordon listening on ${url}\n`);
      if (operatorAddress !== null) process.stdout.write(`operator listening on ${operatorAddress.replace('://[::1]', '://localhost')}/operator/ (approvals)\n`);
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
        reloads.dispose();
        await app.close();
        await operator?.close();
        await runtime.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}
