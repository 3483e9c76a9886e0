import type { ToolContext, ToolRunResult } from '../../tools/tool.ts';
import type { RegisteredTool } from '../../tools/tool-registry.ts';

/** Stage 6: run the tool in its sandbox, under the call's limits. */
export function execute(tool: RegisteredTool, input: unknown, context: ToolContext): Promise<ToolRunResult<unknown>> {
  return tool.definition.run(input, context);
}
