import type { FastifyInstance } from 'fastify';
import { createRunnerApi } from '../../src/api/runner-api.ts';
import type { AuditRecord, AuditSink } from '../../src/audit/audit-sink.ts';
import { createMemoryAuditSink } from '../../src/audit/jsonl-audit-log.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../src/runner/runtime.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { CordonConfig } from '../../src/config/config-schema.ts';

export interface TestServer {
  url: string;
  app: FastifyInstance;
  runtime: Runtime;
  audit: AuditSink & { readonly records: AuditRecord[] };
  close(): Promise<void>;
}

/** The real runner API on a real loopback socket (port 0), with an in-memory audit sink (or the one passed). */
export async function startTestServer(config: CordonConfig, options: Partial<Omit<RuntimeOptions, 'audit'>> & { logger?: Logger; audit?: TestServer['audit'] } = {}): Promise<TestServer> {
  const audit = options.audit ?? createMemoryAuditSink();
  const logger = options.logger ?? silentLogger;
  const runtime = createRuntime(config, { ...options, logger, audit });
  const app = createRunnerApi({ runner: runtime.runner, tokens: runtime.tokens, receipts: runtime.receipts, logger, bodyLimitBytes: config.server.bodyLimitBytes, requestTimeoutMs: 60_000, maxWaitMs: config.approvals.maxWaitMs, unreadBody: { maxBytes: config.server.unreadBodyDiscardBytes, maxMs: config.server.unreadBodyDiscardMs }, ...(config.metrics.enabled ? { metrics: runtime.metrics } : {}) });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  runtime.addTokenEndpoint(`${url}/v1/token`);
  return {
    url,
    app,
    runtime,
    audit,
    async close() {
      await app.close();
      await runtime.close();
    },
  };
}
