import type { IsolateBackend } from '../sandbox/isolate/isolate-backend.ts';
import type { HostFetch } from '../sandbox/isolate/isolate-fetch.ts';
import type { IsolateConfig } from '../config/config-schema.ts';
import type { SessionFactsSink } from '../core/session-facts.ts';

export type BackendKind = 'isolate' | 'container' | 'browser';

/** MCP tool annotations: hints for clients, never trusted for security decisions. */
export interface ToolAnnotations {
  readonly title?: string;
  readonly readOnlyHint?: boolean;
  readonly destructiveHint?: boolean;
  readonly idempotentHint?: boolean;
  readonly openWorldHint?: boolean;
}

/** What a call acts on, derived by Cordon from the validated input, never claimed by the agent. */
export interface ToolResource {
  readonly type: string;
  readonly id: string;
  readonly attributes?: Readonly<Record<string, string | number | boolean>>;
}

/** What a tool gets to run with: the sandbox it was given and the backends it declared. */
export interface ToolContext {
  readonly sandboxId: string;
  readonly isolate: IsolateBackend;
  readonly limits: IsolateConfig;
  /** Facts the tool observed (untrusted content ingested, sensitive reads, egress hosts). */
  readonly session: SessionFactsSink;
  /** The sandbox's egress (through the EgressGuard, bound to its identity); absent: no network at all. */
  readonly fetch?: HostFetch;
}

export type JsonSchema = Readonly<Record<string, unknown>>;

export interface ToolDefinition<Input = unknown, Output = unknown> {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: JsonSchema;
  readonly outputSchema: JsonSchema;
  /** The action the authorization step sees, e.g. `code.exec`. */
  readonly verb: string;
  readonly backends: readonly BackendKind[];
  readonly annotations: ToolAnnotations;
  /** Derives the resource from input that already passed `inputSchema`. */
  resource(input: Input): ToolResource;
  /** Checks the tool's own limits against configuration; throws INPUT_INVALID naming the field. */
  checkLimits?(input: Input, limits: IsolateConfig): void;
  run(input: Input, context: ToolContext): Promise<ToolRunResult<Output>>;
}

/** A tool's answer. `failed` marks "the tool ran and its code failed" (CLI exit 1, still HTTP 200). */
export interface ToolRunResult<Output> {
  readonly output: Output;
  readonly status: string;
  readonly failed: boolean;
}
