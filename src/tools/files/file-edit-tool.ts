import { CordonError } from '../../core/errors.ts';
import type { ToolDefinition } from '../tool.ts';
import { editFile, type FileEdit } from './edit-file.ts';
import { fileCallLimits, fileResource, MAX_FILE_BYTES, PATH_SCHEMA, pathOf, FILE_TOOL } from './file-tool-support.ts';

export interface FileEditInput {
  path: string;
  search?: string;
  replace?: string;
  replaceAll?: boolean;
  diff?: string;
}

/** One edit from the input: search/replace, or a unified diff; never both, never neither. */
function editOf(input: FileEditInput): FileEdit {
  const replacing = input.search !== undefined || input.replace !== undefined || input.replaceAll !== undefined;
  if (replacing && input.diff !== undefined) {
    throw new CordonError('INPUT_INVALID', 'file.edit: give either search and replace, or diff, not both', { details: { field: '/diff', reason: 'with search' } });
  }
  if (input.diff !== undefined) return { kind: 'diff', diff: input.diff };
  if (input.search === undefined || input.replace === undefined) {
    throw new CordonError('INPUT_INVALID', 'file.edit: give search and replace (exact text), or diff (a unified diff)', { details: { field: input.search === undefined ? '/search' : '/replace', reason: 'is required' } });
  }
  return { kind: 'replace', search: input.search, replace: input.replace, ...(input.replaceAll === true ? { replaceAll: true } : {}) };
}

export const fileEditTool: ToolDefinition<FileEditInput, { path: string; sizeBytes: number }> = {
  name: 'file.edit',
  description:
    'Edits a UTF-8 text file in the sandbox workspace: either exact search/replace ("search" must occur exactly once unless "replaceAll"), or a unified diff ("diff") whose every hunk must apply cleanly. Otherwise nothing is written (FS_EDIT_NO_MATCH, FS_EDIT_AMBIGUOUS, FS_EDIT_CONFLICT) and the file stays byte-identical. The write is atomic.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: PATH_SCHEMA,
      search: { type: 'string', maxLength: MAX_FILE_BYTES, description: 'The exact text to replace, whitespace included.' },
      replace: { type: 'string', maxLength: MAX_FILE_BYTES, description: 'What replaces it.' },
      replaceAll: { type: 'boolean', description: 'Replace every occurrence (at least one must exist).' },
      diff: { type: 'string', maxLength: MAX_FILE_BYTES, description: 'A unified diff (@@ hunks) against the current file.' },
    },
  },
  outputSchema: { type: 'object', required: ['path', 'sizeBytes'], properties: { path: { type: 'string' }, sizeBytes: { type: 'integer' } } },
  actions: ['fs.write'],
  action: () => 'fs.write',
  ...FILE_TOOL,
  annotations: { title: 'Edit a file', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  resource: (input) => fileResource(pathOf(input)),
  limits(input, profile) {
    editOf(input); // a malformed edit is refused before any sandbox is made
    return fileCallLimits(profile);
  },

  async run(input, context) {
    const path = pathOf(input);
    const edit = editOf(input);
    const result = await editFile(context.sandbox.workspace, path, edit, { maxBytes: MAX_FILE_BYTES });
    return { output: { path: path.relative, sizeBytes: result.sizeBytes }, status: 'ok', failed: false };
  },
};
