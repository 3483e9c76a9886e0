import { BUILTIN_TOOLS } from '../tools/builtin-tools.ts';
import type { ToolDefinition } from '../tools/tool.ts';
import type { ToolDescriptor } from './runner.ts';

export function describeTool(d: ToolDefinition): ToolDescriptor {
  return Object.freeze({ name: d.name, description: d.description, inputSchema: d.inputSchema, outputSchema: d.outputSchema, annotations: d.annotations });
}

/** What `GET /v1/tools` and `cordon tools` show. */
export const BUILTIN_TOOL_DESCRIPTORS: readonly ToolDescriptor[] = Object.freeze(BUILTIN_TOOLS.map(describeTool));
