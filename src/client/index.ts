/**
 * Cordon's TypeScript client (`import { Cordon } from 'cordon'`). It stands alone: it imports
 * nothing from the server's layers but the error-code table (test/architecture.test.ts checks).
 */
export { Cordon, type CordonOptions, type SandboxMethods } from './cordon-client.ts';
export { CLIENT_ERROR_CODES, CordonClientError, isCordonClientError, type ClientErrorCode, type CordonClientErrorCode, type CordonErrorCode } from './client-errors.ts';
export { isHeld, type HeldCall, type PendingApproval, type RunOptions, type RunResult, type SandboxInfo, type ToolDescriptor, type ToolResult, type ToolStatus, type WaitOptions } from './client-types.ts';
export type { DelegationOptions, UserTokenSource } from './delegated-credentials.ts';
export type { FileCallOptions, FileDeleteInput, FileEditInput, FileListEntry, FileListInput, FileListOutput, FileMethods, FileMoveInput, FileReadInput, FileReadOutput, FileStatOutput, FileWriteInput, SandboxRef } from './file-methods.ts';
// Tool lists and tool calls of model providers (OpenAI Responses, Anthropic Messages) ⇄ Cordon calls.
export * from './adapters/index.ts';
