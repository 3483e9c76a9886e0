import { browseFetchTool, pageTool } from './browse/index.ts';
import { codeTool } from './code/code-tool.ts';
import { fileDeleteTool, fileEditTool, fileListTool, fileMkdirTool, fileMoveTool, fileReadTool, fileStatTool, fileWriteTool } from './files/index.ts';
import type { ToolDefinition } from './tool.ts';

/** Every tool Cordon ships. Adding a tool means adding it here and nothing outside tools/. */
export const BUILTIN_TOOLS: readonly ToolDefinition[] = [
  codeTool,
  fileReadTool,
  fileWriteTool,
  fileEditTool,
  fileListTool,
  fileStatTool,
  fileMkdirTool,
  fileMoveTool,
  fileDeleteTool,
  browseFetchTool,
  pageTool,
] as unknown as readonly ToolDefinition[];
