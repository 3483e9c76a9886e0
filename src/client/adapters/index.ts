// Pure functions between Cordon's tool list and model providers' tool-calling shapes: no
// server, no SDK. See docs/adapters.md.
export { toOpenAITools, fromOpenAIFunctionCall, toOpenAIFunctionCallOutput, type OpenAIFunctionTool, type OpenAIFunctionCall, type OpenAIFunctionCallOutput, type OpenAIToolOptions } from './openai.ts';
export { toAnthropicTools, fromAnthropicToolUse, toAnthropicToolResult, type AnthropicTool, type AnthropicToolUse, type AnthropicToolResult } from './anthropic.ts';
export { describeOutcome, type CordonOutcome, type DescribedOutcome, type OutcomeKind } from './call-outcome.ts';
export { toStrictSchema, restoreAbsent, NoStrictForm, type StrictConversion } from './strict-schema.ts';
export { createToolNameMap, type ToolNameMap } from './tool-names.ts';
export { MAX_ARGUMENT_CHARS, type CordonCall, type CordonTool } from './tool-call.ts';
