import { CordonError } from '../../core/errors.ts';
import type { CodeRunResult } from '../../sandbox/index.ts';
import type { ToolDefinition } from '../tool.ts';

export interface CodeInput {
  language: string;
  source: string;
  timeoutMs?: number;
  memoryMb?: number;
}

export type CodeOutput = CodeRunResult;

/** Source larger than this is refused before a sandbox is made. */
export const MAX_SOURCE_CHARS = 512 * 1024;

/** Names a language is also known by, on the CLI and the API alike. */
const ALIASES: Readonly<Record<string, string>> = { js: 'javascript', javascript: 'javascript', py: 'python', python: 'python', python3: 'python', sh: 'sh', shell: 'sh' };

export function canonicalLanguage(language: string): string {
  return ALIASES[language.toLowerCase()] ?? language;
}

export const codeTool: ToolDefinition<CodeInput, CodeOutput> = {
  name: 'code',
  description:
    'Runs code in a sandbox. JavaScript (js profile) runs in a V8 isolate with no file system or host objects: the value of the last expression (awaited if it is a promise) is returned as JSON; top-level `await` works; console output is captured; errors carry line and column; `fetch` exists only when the sandbox has an egress policy. Python and sh (python, shell, python-gvisor profiles) run in a hardened container as an unprivileged user with a writable /workspace: stdout and stderr are captured, sh returns its exit code, Python returns the repr of a final expression as `value`. In a session sandbox (POST /v1/sandboxes) state persists from call to call (JavaScript globals, Python variables, workspace files). The network is reachable only through the egress policy, if any (HTTP_PROXY is set in containers).',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['language', 'source'],
    properties: {
      language: { type: 'string', minLength: 1, maxLength: 32, description: 'javascript (js), python (py) or sh (shell); the sandbox profile says which it offers.' },
      source: { type: 'string', maxLength: MAX_SOURCE_CHARS, description: 'Script source; its completion value is the result.' },
      timeoutMs: { type: 'integer', minimum: 1, description: "Wall-clock limit; at most the profile's maximum." },
      memoryMb: { type: 'integer', minimum: 8, description: "Memory limit (an isolate's heap, a container's memory); at most the profile's maximum." },
    },
  },
  outputSchema: {
    type: 'object',
    required: ['status', 'stdout', 'stderr', 'durationMs', 'truncated'],
    properties: {
      status: { enum: ['ok', 'error', 'timeout', 'oom'] },
      value: {},
      error: { type: 'object', properties: { name: { type: 'string' }, message: { type: 'string' }, line: { type: 'integer' }, column: { type: 'integer' } } },
      stdout: { type: 'string' },
      stderr: { type: 'string' },
      durationMs: { type: 'number' },
      truncated: { type: 'boolean' },
      exitCode: { type: 'integer', description: 'sh: the exit status.' },
    },
  },
  actions: ['code.exec'],
  action: () => 'code.exec',
  backends: ['isolate', 'container'],
  annotations: { title: 'Run code', readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: false },

  resource: (input) => ({ type: 'language', id: canonicalLanguage(input.language) }),

  limits(input, profile) {
    const language = canonicalLanguage(input.language);
    if (!profile.languages.includes(language)) {
      throw new CordonError('INPUT_INVALID', `code: language ${JSON.stringify(input.language.slice(0, 32))} is not offered by sandbox profile "${profile.name}"; it offers: ${profile.languages.join(', ')}`, {
        details: { tool: 'code', field: '/language', reason: 'not offered by the profile', offered: profile.languages },
      });
    }
    const max = profile.limits;
    const over = (field: string, max: number) =>
      new CordonError('INPUT_INVALID', `code: input/${field} must be at most ${max} (the sandbox profile's maximum)`, { details: { tool: 'code', field: `/${field}`, reason: `must be <= ${max}` } });
    if (input.timeoutMs !== undefined && input.timeoutMs > max.maxTimeoutMs) throw over('timeoutMs', max.maxTimeoutMs);
    if (input.memoryMb !== undefined && input.memoryMb > max.maxMemoryMb) throw over('memoryMb', max.maxMemoryMb);
    return { timeoutMs: input.timeoutMs ?? max.timeoutMs, memoryMb: input.memoryMb ?? max.memoryMb, outputBytes: max.outputBytes, resultBytes: max.resultBytes };
  },

  async run(input, context) {
    const language = canonicalLanguage(input.language);
    const { limits } = context;
    const result = await context.sandbox.run({ language, source: input.source, memoryMb: limits.memoryMb, timeoutMs: limits.timeoutMs, cpuTimeMs: limits.timeoutMs, outputBytes: limits.outputBytes, resultBytes: limits.resultBytes, ...(context.signal === undefined ? {} : { signal: context.signal }) });
    const output: CodeOutput = { ...result, durationMs: Math.round(result.durationMs * 1000) / 1000 };
    return { output, status: result.status, failed: result.status !== 'ok' };
  },
};
