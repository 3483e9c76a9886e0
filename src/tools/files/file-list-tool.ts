import { MAX_DEPTH, type ListEntry } from '../../sandbox/index.ts';
import type { ToolDefinition } from '../tool.ts';
import { fileResource, inputPath, PATH_SCHEMA, FILE_TOOL } from './file-tool-support.ts';
import { compileGlob, MAX_GLOB_CHARS } from './glob.ts';

export interface FileListInput {
  path?: string;
  glob?: string;
  depth?: number;
  maxEntries?: number;
}

const DEFAULT_ENTRIES = 1000;
const MAX_ENTRIES = 10_000;
/** Entries walked to find matches for a glob; past it the answer says truncated. */
const SCAN_ENTRIES = 50_000;

export const fileListTool: ToolDefinition<FileListInput, { path: string; entries: ListEntry[]; truncated: boolean }> = {
  name: 'file.list',
  description:
    'Lists a directory of the sandbox workspace (default: its root), in sorted order, to "depth" levels (default 1), optionally only paths matching "glob" ("*" within a part, "**" across parts, "?" one character; matched against workspace-relative paths such as "src/app.ts"). Symlinks are listed as such and never entered. At most "maxEntries" entries (default 1000); "truncated" says when there were more.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      path: PATH_SCHEMA,
      glob: { type: 'string', minLength: 1, maxLength: MAX_GLOB_CHARS, description: 'Only paths matching this glob, e.g. "**/*.ts".' },
      depth: { type: 'integer', minimum: 1, maximum: MAX_DEPTH, description: 'Levels to descend: 1 lists the directory itself.' },
      maxEntries: { type: 'integer', minimum: 1, maximum: MAX_ENTRIES, description: `Most entries to return (default ${DEFAULT_ENTRIES}).` },
    },
  },
  outputSchema: {
    type: 'object',
    required: ['path', 'entries', 'truncated'],
    properties: {
      path: { type: 'string' },
      entries: { type: 'array', items: { type: 'object', required: ['path', 'type', 'sizeBytes'], properties: { path: { type: 'string' }, type: { enum: ['file', 'directory', 'symlink', 'other'] }, sizeBytes: { type: 'integer' } } } },
      truncated: { type: 'boolean' },
    },
  },
  actions: ['fs.read'],
  action: () => 'fs.read',
  ...FILE_TOOL,
  annotations: { title: 'List files', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  resource: (input) => fileResource(inputPath({ path: input.path ?? '' }, 'path')),

  async run(input, context) {
    const path = inputPath({ path: input.path ?? '' }, 'path');
    const maxEntries = input.maxEntries ?? DEFAULT_ENTRIES;
    const depth = input.depth ?? 1;
    if (input.glob === undefined) {
      const listed = await context.sandbox.workspace.list(path, { depth, maxEntries });
      return { output: { path: path.relative, ...listed }, status: 'ok', failed: false };
    }
    // The glob is applied here, the same for every backend; the walk is bounded on its own.
    const matches = compileGlob(input.glob);
    const walked = await context.sandbox.workspace.list(path, { depth, maxEntries: SCAN_ENTRIES });
    const found = walked.entries.filter((e) => matches(e.path));
    const entries = found.slice(0, maxEntries);
    return { output: { path: path.relative, entries, truncated: walked.truncated || found.length > maxEntries }, status: 'ok', failed: false };
  },
};
