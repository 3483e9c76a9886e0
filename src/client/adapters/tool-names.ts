import { CordonClientError } from '../client-errors.ts';

/** Function and tool names OpenAI and Anthropic accept (see openai.ts, anthropic.ts for the pages). */
export const PROVIDER_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

export interface ToolNameMap {
  /** Cordon's `file.read` → the provider's `file_read`. */
  toProvider(name: string): string;
  /** The provider's name → Cordon's; undefined for a name that is not one of the tools. */
  fromProvider(name: string): string | undefined;
}

/**
 * Cordon's tool names have dots (`file.read`); providers allow letters, digits, `_` and `-`.
 * A dot becomes `_`. The way back is a lookup in the table built here, never a string rewrite,
 * so it is exact; two tools that would share a provider name are refused when the table is
 * built, not confused at call time.
 */
export function createToolNameMap(names: readonly string[]): ToolNameMap {
  const forward = new Map<string, string>();
  const back = new Map<string, string>();
  for (const name of names) {
    const mapped = name.replaceAll('.', '_');
    if (!PROVIDER_TOOL_NAME.test(mapped)) throw new CordonClientError('USAGE', `the tool name ${JSON.stringify(name.slice(0, 80))} cannot be given to a model: a function name is 1 to 64 letters, digits, "_" or "-"`, { details: { tool: name.slice(0, 80) } });
    const clash = back.get(mapped);
    if (clash !== undefined && clash !== name) throw new CordonClientError('USAGE', `the tools ${JSON.stringify(clash)} and ${JSON.stringify(name)} would both be called ${JSON.stringify(mapped)}; rename one`, { details: { tools: [clash, name], name: mapped } });
    forward.set(name, mapped);
    back.set(mapped, name);
  }
  return {
    toProvider(name) {
      const mapped = forward.get(name);
      if (mapped === undefined) throw new CordonClientError('TOOL_NOT_FOUND', `no tool named ${JSON.stringify(name.slice(0, 64))} in this list`, { details: { tool: name.slice(0, 64) } });
      return mapped;
    },
    fromProvider: (name) => back.get(name),
  };
}

/** The Cordon tool a model named, or TOOL_NOT_FOUND (a model can name a tool it was never given). */
export function resolveToolName(map: ToolNameMap, raw: unknown): string {
  const tool = typeof raw === 'string' ? map.fromProvider(raw) : undefined;
  if (tool === undefined) {
    const shown = typeof raw === 'string' ? JSON.stringify(raw.slice(0, 64)) : 'a non-string';
    throw new CordonClientError('TOOL_NOT_FOUND', `the model called ${shown}, which is not one of the tools it was given`, { details: { name: typeof raw === 'string' ? raw.slice(0, 64) : null } });
  }
  return tool;
}
