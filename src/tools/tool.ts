import type { SessionFactsSink } from '../core/session-facts.ts';
import type { BackendKind, BrowserHost, Sandbox, SandboxProfile } from '../sandbox/index.ts';

export type { BackendKind };

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

/** What a resource may depend on besides the input: facts of the sandbox the call runs in. */
export interface ResourceContext {
  /** The sandbox's egress policy is marked trusted (a URL resource's `trusted`). */
  readonly egressTrusted: boolean;
}

/** One more action a call takes, decided like its first (a move writes at both ends). */
export interface ExtraAction {
  readonly action: string;
  readonly resource: ToolResource;
}

/** The limits one call runs under: what the tool asked for, within its profile's maximums. */
export interface CallLimits {
  readonly timeoutMs: number;
  readonly memoryMb: number;
  readonly outputBytes: number;
  readonly resultBytes: number;
}

/** What a tool gets to run with: its sandbox, the session's fact sink, and its call's limits. */
export interface ToolContext {
  readonly sandbox: Sandbox;
  /** The profile the sandbox was made from (its limits, its sensitive paths). */
  readonly profile: SandboxProfile;
  /** Facts the tool observed (untrusted content ingested, sensitive reads, egress hosts). */
  readonly session: SessionFactsSink;
  readonly limits: CallLimits;
  /** The shared browser (browse.page); null where Chromium is not set up. */
  readonly browser: BrowserHost | null;
  /** Aborted when the caller went away: stop waiting and working, the answer has no reader. */
  readonly signal?: AbortSignal;
}

export type JsonSchema = Readonly<Record<string, unknown>>;

export interface ToolDefinition<Input = unknown, Output = unknown> {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: JsonSchema;
  readonly outputSchema: JsonSchema;
  /** Every action this tool can ask for (listing, token scopes). */
  readonly actions: readonly string[];
  /** The action the authorization step sees for this input, e.g. `code.exec` or `fs.delete`. */
  action(input: Input): string;
  readonly backends: readonly BackendKind[];
  /** The tool never reaches the network (the file tools): a session sandbox's egress is not chosen for it. */
  readonly offline?: boolean;
  /** The tool's hints as listed (GET /v1/tools, MCP). */
  readonly annotations: ToolAnnotations;
  /** The hints for this input (a file tool is destructive only when it deletes). */
  annotationsFor?(input: Input): ToolAnnotations;
  /** Derives the resource from input that already passed `inputSchema`. */
  resource(input: Input, context: ResourceContext): ToolResource;
  /** Further actions this input takes; each must be allowed too (default: none). */
  extraActions?(input: Input, context: ResourceContext): readonly ExtraAction[];
  /**
   * This call's limits within its profile's: throws INPUT_INVALID naming the field when the
   * input asks for more. The runner never reads a tool's input fields itself.
   */
  limits(input: Input, profile: SandboxProfile): CallLimits;
  run(input: Input, context: ToolContext): Promise<ToolRunResult<Output>>;
}

/** A tool's answer. `failed` marks "the tool ran and its code failed" (CLI exit 1, still HTTP 200). */
export interface ToolRunResult<Output> {
  readonly output: Output;
  readonly status: string;
  readonly failed: boolean;
}
