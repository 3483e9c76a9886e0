import { Server } from '@modelcontextprotocol/server';
import { CORDON_VERSION } from '../../core/version.ts';
import { newId } from '../../core/ids.ts';
import type { Logger } from '../../core/logger.ts';
import type { Principal } from '../../core/principal.ts';
import type { Runner } from '../../runner/runner.ts';
import { renderError } from '../error-renderer.ts';
import { invocationBody } from '../schemas/request-schemas.ts';
import { toCallResult, toMcpTool, toRefusalResult } from './mcp-tools.ts';

export interface McpServerOptions {
  readonly runner: Runner;
  /**
   * Who calls: fixed for an HTTP request; for a stdio connection, which outlives any one token,
   * a function asked before each request (it signs and verifies a fresh token when one runs out).
   */
  readonly principal: Principal | (() => Promise<Principal>);
  readonly logger: Logger;
  /** The HTTP request's id (x-request-id), so its audit records can be found; stdio makes one per call. */
  readonly requestId?: string;
}

/** The `_meta` keys a tools/call may carry to say where it runs, as POST /v1/invocations's fields. */
export const INVOCATION_META_KEYS = Object.freeze({ sandbox: 'cordon/sandbox', session: 'cordon/session', profile: 'cordon/profile' });

function invocationMeta(meta: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(INVOCATION_META_KEYS)) if (meta?.[key] !== undefined) out[field] = meta[key];
  return out;
}

/**
 * One MCP server for one authenticated principal: tools/list and tools/call over Cordon's runner.
 * Built per HTTP request (stateless) and once per stdio connection, from this one definition.
 *
 * Nothing of the caller's token reaches it: it holds the verified Principal only, and a tool call
 * gets the tool's input and nothing else (runner.invoke), so no credential of the caller's can
 * be passed on to a sandbox, a tool or an upstream.
 */
export function createMcpServer(options: McpServerOptions): Server {
  const { runner, logger } = options;
  const principal = typeof options.principal === 'function' ? options.principal : () => Promise.resolve(options.principal as Principal);
  const server = new Server({ name: 'cordon', version: CORDON_VERSION }, { capabilities: { tools: {} } });

  server.setRequestHandler('tools/list', async () => ({ tools: runner.listToolsFor(await principal()).map(toMcpTool) }));

  server.setRequestHandler('tools/call', async (request, ctx) => {
    const requestId = options.requestId ?? newId('req');
    try {
      // Exactly POST /v1/invocations: the same body checks, stages, approvals and audit records.
      const body = invocationBody.parse({ tool: request.params.name, input: request.params.arguments ?? {}, ...invocationMeta(ctx.mcpReq._meta) });
      const result = await runner.invoke(await principal(), { ...body, requestId }, { signal: ctx.mcpReq.signal });
      return toCallResult(result);
    } catch (err) {
      // A refusal is a result the model reads, never an exception out of the handler.
      const rendered = renderError(err, requestId);
      if (rendered.internal) logger.error({ err, requestId }, 'mcp tools/call failed');
      return toRefusalResult(rendered);
    }
  });
  return server;
}
