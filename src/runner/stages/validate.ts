import { CordonError } from '../../core/errors.ts';
import { depthOf, MAX_INPUT_DEPTH } from '../../core/json-depth.ts';
import type { RegisteredTool, ToolRegistry } from '../../tools/tool-registry.ts';

/** Stage 2: the named tool exists and the input matches its schema. */
export function validate(tools: ToolRegistry, toolName: string, input: unknown): RegisteredTool {
  const tool = tools.get(toolName);
  if (tool === undefined) {
    throw new CordonError('TOOL_NOT_FOUND', `no tool named ${JSON.stringify(toolName.slice(0, 64))}; GET /v1/tools lists them`, { details: { tool: toolName.slice(0, 64) } });
  }
  if (depthOf(input, MAX_INPUT_DEPTH) > MAX_INPUT_DEPTH) {
    throw new CordonError('INPUT_INVALID', `${toolName}: input is nested deeper than ${MAX_INPUT_DEPTH} levels`, { details: { tool: toolName, field: '/', reason: 'too deep' } });
  }
  tool.validate(input);
  return tool;
}
