import { describeOutcome, type CordonOutcome } from './call-outcome.ts';
import { checkCallId, MAX_ARGUMENT_CHARS, parseArguments, type CordonCall, type CordonTool } from './tool-call.ts';
import { createToolNameMap, resolveToolName } from './tool-names.ts';
import { NoStrictForm, restoreAbsent, toStrictSchema } from './strict-schema.ts';

// Shapes from OpenAI's Responses API reference (https://platform.openai.com/docs/api-reference/responses)
// and function-calling guide (https://platform.openai.com/docs/guides/function-calling), written
// out here so the adapter needs no SDK. Function names: letters, digits, "_" and "-", at most 64.

/** A `function` tool in `tools` of `POST /v1/responses`. */
export interface OpenAIFunctionTool {
  readonly type: 'function';
  readonly name: string;
  readonly description: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly strict: boolean;
}

/** A `function_call` item of a response's `output`. */
export interface OpenAIFunctionCall {
  readonly type: 'function_call';
  readonly call_id: string;
  readonly name: string;
  /** JSON text, written by the model: untrusted. */
  readonly arguments: string;
  readonly id?: string;
  readonly status?: string;
}

/** The item that answers a call, sent back in the next request's `input`. */
export interface OpenAIFunctionCallOutput {
  readonly type: 'function_call_output';
  readonly call_id: string;
  readonly output: string;
}

export interface OpenAIToolOptions {
  /** Strict function calling (default true): the model's arguments always match the schema. */
  readonly strict?: boolean;
}

/**
 * Cordon's tools as Responses `function` tools. With strict (the default), each input schema
 * is rewritten into strict mode's subset (strict-schema.ts); a constraint strict mode cannot
 * state is said in the field's description and still checked by Cordon. A tool whose schema has
 * no strict form at all is offered with `strict: false` and its schema unchanged.
 */
export function toOpenAITools(tools: readonly CordonTool[], options: OpenAIToolOptions = {}): OpenAIFunctionTool[] {
  const names = createToolNameMap(tools.map((t) => t.name));
  return tools.map((tool) => {
    const base = { type: 'function' as const, name: names.toProvider(tool.name), description: tool.description };
    if (options.strict === false) return { ...base, parameters: tool.inputSchema, strict: false };
    try {
      return { ...base, parameters: toStrictSchema(tool.inputSchema).schema, strict: true };
    } catch (err) {
      if (err instanceof NoStrictForm) return { ...base, parameters: tool.inputSchema, strict: false };
      throw err;
    }
  });
}

/**
 * A model's `function_call` → the Cordon call to make. Refuses (CordonError) a name that is not
 * one of `tools` (TOOL_NOT_FOUND), and arguments that are not a JSON object, are over
 * `maxArgumentChars`, too deep, or carry `__proto__` (INPUT_INVALID). Nulls strict mode sent
 * for fields left out become absent. The input is not checked against the tool's schema here:
 * Cordon does that, once, on the server.
 */
export function fromOpenAIFunctionCall(item: OpenAIFunctionCall, tools: readonly CordonTool[], options: { readonly maxArgumentChars?: number } = {}): CordonCall {
  const callId = checkCallId((item as { call_id?: unknown }).call_id, 'call_id');
  const tool = resolveToolName(createToolNameMap(tools.map((t) => t.name)), item.name);
  const input = parseArguments(tool, item.arguments, options.maxArgumentChars ?? MAX_ARGUMENT_CHARS);
  const schema = tools.find((t) => t.name === tool)?.inputSchema;
  return { callId, tool, input: restoreAbsent(input, schema) as Record<string, unknown> };
}

/** What became of the call, as the `function_call_output` the model reads next (see call-outcome.ts). */
export function toOpenAIFunctionCallOutput(callId: string, outcome: CordonOutcome): OpenAIFunctionCallOutput {
  return { type: 'function_call_output', call_id: checkCallId(callId, 'callId'), output: describeOutcome(outcome).text };
}
