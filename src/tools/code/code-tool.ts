import { CordonError } from '../../core/errors.ts';
import type { IsolateConfig } from '../../config/config-schema.ts';
import type { IsolateRunResult } from '../../sandbox/isolate/isolate-backend.ts';
import type { ToolDefinition } from '../tool.ts';

export interface CodeInput {
  language: 'javascript';
  source: string;
  timeoutMs?: number;
  memoryMb?: number;
}

export type CodeOutput = Omit<IsolateRunResult, 'durationMs'> & { durationMs: number };

/** Source larger than this is refused before an isolate is made. */
export const MAX_SOURCE_CHARS = 512 * 1024;

export const codeTool: ToolDefinition<CodeInput, CodeOutput> = {
  name: 'code',
  description: 'Runs JavaScript in a fresh V8 isolate with no file system or host objects. The value of the last expression (awaited if it is a promise) is returned as JSON; console output is captured. `fetch` exists only when the sandbox has an egress policy, and reaches only what that policy allows.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['language', 'source'],
    properties: {
      language: { enum: ['javascript'], description: 'Only javascript for now.' },
      source: { type: 'string', maxLength: MAX_SOURCE_CHARS, description: 'Script source; its completion value is the result.' },
      timeoutMs: { type: 'integer', minimum: 1, description: 'Wall-clock limit; at most the configured maximum.' },
      memoryMb: { type: 'integer', minimum: 8, description: 'Heap limit; at most the configured maximum.' },
    },
  },
  outputSchema: {
    type: 'object',
    required: ['status', 'stdout', 'stderr', 'durationMs', 'truncated'],
    properties: {
      status: { enum: ['ok', 'error', 'timeout', 'oom'] },
      value: {},
      error: { type: 'object', properties: { name: { type: 'string' }, message: { type: 'string' } } },
      stdout: { type: 'string' },
      stderr: { type: 'string' },
      durationMs: { type: 'number' },
      truncated: { type: 'boolean' },
    },
  },
  verb: 'code.exec',
  backends: ['isolate'],
  annotations: { title: 'Run code', readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: false },

  resource: (input) => ({ type: 'language', id: input.language }),

  checkLimits(input: CodeInput, limits: IsolateConfig): void {
    if (input.timeoutMs !== undefined && input.timeoutMs > limits.maxTimeoutMs) {
      throw new CordonError('INPUT_INVALID', `code: input/timeoutMs must be at most ${limits.maxTimeoutMs}`, { details: { tool: 'code', field: '/timeoutMs', reason: `must be <= ${limits.maxTimeoutMs}` } });
    }
    if (input.memoryMb !== undefined && input.memoryMb > limits.maxMemoryMb) {
      throw new CordonError('INPUT_INVALID', `code: input/memoryMb must be at most ${limits.maxMemoryMb}`, { details: { tool: 'code', field: '/memoryMb', reason: `must be <= ${limits.maxMemoryMb}` } });
    }
  },

  async run(input, context) {
    const timeoutMs = input.timeoutMs ?? context.limits.defaultTimeoutMs;
    const result = await context.isolate.run({
      sandboxId: context.sandboxId,
      source: input.source,
      memoryMb: input.memoryMb ?? context.limits.defaultMemoryMb,
      timeoutMs,
      cpuTimeMs: timeoutMs,
      ...(context.fetch === undefined ? {} : { fetch: context.fetch }),
    });
    const output: CodeOutput = { ...result, durationMs: Math.round(result.durationMs * 1000) / 1000 };
    return { output, status: result.status, failed: result.status !== 'ok' };
  },
};
