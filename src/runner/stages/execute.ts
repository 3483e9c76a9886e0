import type { SessionFactsSink } from '../../core/session-facts.ts';
import type { Sandbox } from '../../sandbox/index.ts';
import type { CallLimits, ToolRunResult } from '../../tools/tool.ts';
import type { RegisteredTool } from '../../tools/tool-registry.ts';

/** Stage 6: run the tool in its sandbox, under the call's limits. */
export function execute(tool: RegisteredTool, input: unknown, context: { sandbox: Sandbox; session: SessionFactsSink; limits: CallLimits; signal?: AbortSignal }): Promise<ToolRunResult<unknown>> {
  return tool.definition.run(input, context);
}
