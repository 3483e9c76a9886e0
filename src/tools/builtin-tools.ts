import { pageTool } from './browse/index.ts';
import { codeTool } from './code/code-tool.ts';
import type { ToolDefinition } from './tool.ts';

/** Every tool Cordon ships. Adding a tool means adding it here and nothing outside tools/. */
export const BUILTIN_TOOLS: readonly ToolDefinition[] = [codeTool as ToolDefinition, pageTool as ToolDefinition];
