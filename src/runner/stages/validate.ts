import { CordonError } from '../../core/errors.ts';
import type { IsolateConfig } from '../../config/config-schema.ts';
import type { RegisteredTool, ToolRegistry } from '../../tools/tool-registry.ts';

/** Stage 2: the named tool exists and the input matches its schema and the configured limits. */
export function validate(tools: ToolRegistry, toolName: string, input: unknown, limits: IsolateConfig): RegisteredTool {
  const tool = tools.get(toolName);
  if (tool === undefined) {
    throw new CordonError('TOOL_NOT_FOUND', `no tool named ${JSON.stringify(toolName.slice(0, 64))}; GET /v1/tools lists them`, { details: { tool: toolName.slice(0, 64) } });
  }
  tool.validate(input);
  tool.definition.checkLimits?.(input, limits);
  return tool;
}
