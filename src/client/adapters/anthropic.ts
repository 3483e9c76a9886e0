import { describeOutcome, type CordonOutcome } from './call-outcome.ts';
import { checkArguments, checkCallId, MAX_ARGUMENT_CHARS, type CordonCall, type CordonTool } from './tool-call.ts';
import { createToolNameMap, resolveToolName } from './tool-names.ts';
import { CordonClientError } from '../client-errors.ts';

// Shapes from Anthropic's tool-use guide (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use)
// and Messages API reference, written out so the adapter needs no SDK. Tool names match
// ^[a-zA-Z0-9_-]{1,64}$; input_schema is a JSON Schema whose root is an object.

/** A client tool in `tools` of `POST /v1/messages`. */
export interface AnthropicTool {
  readonly name: string;
  readonly description: string;
  readonly input_schema: Readonly<Record<string, unknown>>;
}

/** A `tool_use` block of an assistant message's `content`. */
export interface AnthropicToolUse {
  readonly type: 'tool_use';
  readonly id: string;
  readonly name: string;
  /** Parsed by the API from the model's output: untrusted. */
  readonly input: unknown;
}

/** The block that answers it, in the next user message's `content`. */
export interface AnthropicToolResult {
  readonly type: 'tool_result';
  readonly tool_use_id: string;
  readonly content: string;
  readonly is_error: boolean;
}

/** Cordon's tools as Anthropic tools: names mapped as for OpenAI (`file.read` → `file_read`), schemas as they are. */
export function toAnthropicTools(tools: readonly CordonTool[]): AnthropicTool[] {
  const names = createToolNameMap(tools.map((t) => t.name));
  return tools.map((tool) => ({ name: names.toProvider(tool.name), description: tool.description, input_schema: tool.inputSchema }));
}

/**
 * A model's `tool_use` block → the Cordon call to make. Refuses a name that is not one of
 * `tools` (TOOL_NOT_FOUND) and input that is not an object, is oversized, too deep, or carries
 * `__proto__` (INPUT_INVALID). Cordon checks the input against the tool's schema on the server.
 */
export function fromAnthropicToolUse(block: AnthropicToolUse, tools: readonly CordonTool[], options: { readonly maxInputChars?: number } = {}): CordonCall {
  const callId = checkCallId((block as { id?: unknown }).id, 'id');
  const tool = resolveToolName(createToolNameMap(tools.map((t) => t.name)), block.name);
  const input = checkArguments(tool, block.input);
  const max = options.maxInputChars ?? MAX_ARGUMENT_CHARS;
  const size = JSON.stringify(input).length;
  if (size > max) throw new CordonClientError('INPUT_INVALID', `${tool}: the input is ${size} characters as JSON; at most ${max} are accepted`, { details: { tool, field: '/', limit: max } });
  return { callId, tool, input };
}

/** What became of the call, as the `tool_result` block the model reads next (see call-outcome.ts). */
export function toAnthropicToolResult(toolUseId: string, outcome: CordonOutcome): AnthropicToolResult {
  const described = describeOutcome(outcome);
  return { type: 'tool_result', tool_use_id: checkCallId(toolUseId, 'toolUseId'), content: described.text, is_error: described.isError };
}
