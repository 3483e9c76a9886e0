import { join } from 'node:path';
import type { AuditSink } from '../audit/audit-sink.ts';
import { createJsonlAuditLog } from '../audit/jsonl-audit-log.ts';
import type { Logger } from '../core/logger.ts';
import type { CordonConfig } from '../config/config-schema.ts';
import { loadAgentRegistry, type AgentRegistry } from '../identity/agent-registry.ts';
import { createTokenVerifier } from '../identity/token-verifier.ts';
import { createToolListAuthorizer } from '../policy/tool-list-authorizer.ts';
import { createIsolateBackend } from '../sandbox/isolate/isolate-backend.ts';
import { BUILTIN_TOOLS } from '../tools/builtin-tools.ts';
import { createToolRegistry } from '../tools/tool-registry.ts';
import { createRunner, type Runner } from './runner.ts';

export interface Runtime {
  readonly config: CordonConfig;
  readonly agents: AgentRegistry;
  readonly runner: Runner;
  readonly auditPath: string;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger: Logger;
  /** Replaces the JSONL audit log under the data directory (tests). */
  audit?: AuditSink;
}

/** Builds everything one Cordon process needs from a validated config. */
export function createRuntime(config: CordonConfig, options: RuntimeOptions): Runtime {
  const agents = loadAgentRegistry({ agents: config.agents, dataDir: config.dataDir, createMissingKeys: true, requireKeys: true });
  const verifier = createTokenVerifier({
    registry: agents,
    audience: config.auth.audience,
    maxLifetimeSec: config.auth.maxTokenLifetimeSec,
    clockToleranceSec: config.auth.clockToleranceSec,
  });
  const auditPath = join(config.dataDir, 'audit', 'audit.jsonl');
  const audit = options.audit ?? createJsonlAuditLog(auditPath);
  const isolate = createIsolateBackend(config.sandbox.isolate, (err) => options.logger.error({ err }, 'warm isolate could not be prepared'));
  const runner = createRunner({
    verifier,
    tools: createToolRegistry(BUILTIN_TOOLS),
    authorizer: createToolListAuthorizer((id) => agents.get(id)?.tools),
    isolate,
    limits: config.sandbox.isolate,
    audit,
    logger: options.logger,
  });
  let closed: Promise<void> | null = null;
  return {
    config,
    agents,
    runner,
    auditPath,
    close() {
      closed ??= (async () => {
        isolate.close();
        await audit.close();
      })();
      return closed;
    },
  };
}
