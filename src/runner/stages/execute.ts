import type { IsolateConfig } from '../../config/config-schema.ts';
import type { SessionFactsSink } from '../../core/session-facts.ts';
import type { HostFetch } from '../../sandbox/isolate/isolate-fetch.ts';
import type { IsolateBackend } from '../../sandbox/isolate/isolate-backend.ts';
import type { ToolRunResult } from '../../tools/tool.ts';
import type { RegisteredTool } from '../../tools/tool-registry.ts';
import type { SandboxIdentity } from './sandbox.ts';

/** Stage 6: run the tool in its sandbox, under the configured limits. */
export function execute(tool: RegisteredTool, input: unknown, sandbox: SandboxIdentity, isolate: IsolateBackend, limits: IsolateConfig, session: SessionFactsSink, fetch: HostFetch | undefined): Promise<ToolRunResult<unknown>> {
  return tool.definition.run(input, { sandboxId: sandbox.id, isolate, limits, session, ...(fetch === undefined ? {} : { fetch }) });
}
