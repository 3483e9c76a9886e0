import { CordonError } from '../../core/errors.ts';
import type { ToolDefinition } from '../tool.ts';
import { fileResource, MAX_FILE_BYTES, PATH_SCHEMA, pathOf, FILE_TOOL } from './file-tool-support.ts';

export interface FileWriteInput {
  path: string;
  content: string;
  encoding?: 'utf8' | 'base64';
  createOnly?: boolean;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The bytes to write: strict base64 only (Buffer.from would silently skip what is not base64). */
export function contentBytes(content: string, encoding: 'utf8' | 'base64'): Buffer {
  if (encoding === 'utf8') return Buffer.from(content, 'utf8');
  if (!BASE64.test(content)) throw new CordonError('INPUT_INVALID', 'file.write: input/content is not valid base64 (A-Z, a-z, 0-9, +, /, padded with =)', { details: { field: '/content', reason: 'not base64' } });
  return Buffer.from(content, 'base64');
}

export const fileWriteTool: ToolDefinition<FileWriteInput, { path: string; sizeBytes: number }> = {
  name: 'file.write',
  description:
    'Writes a whole file in the sandbox workspace, atomically: a reader sees the old content or the new, never a mix. The parent directory must exist (file.mkdir). "createOnly" refuses to replace an existing file. Content is UTF-8 text, or base64 for any bytes.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['path', 'content'],
    properties: {
      path: PATH_SCHEMA,
      content: { type: 'string', maxLength: Math.ceil((MAX_FILE_BYTES * 4) / 3) + 4, description: `The file's new content (at most ${MAX_FILE_BYTES} bytes).` },
      encoding: { enum: ['utf8', 'base64'], description: 'How content is given: utf8 (default) or base64.' },
      createOnly: { type: 'boolean', description: 'Refuse (FS_EXISTS) if something is already at the path.' },
    },
  },
  outputSchema: { type: 'object', required: ['path', 'sizeBytes'], properties: { path: { type: 'string' }, sizeBytes: { type: 'integer' } } },
  actions: ['fs.write'],
  action: () => 'fs.write',
  ...FILE_TOOL,
  annotations: { title: 'Write a file', readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  resource: (input) => fileResource(pathOf(input)),

  async run(input, context) {
    const path = pathOf(input);
    const bytes = contentBytes(input.content, input.encoding ?? 'utf8');
    await context.sandbox.workspace.write(path, bytes, { maxBytes: MAX_FILE_BYTES, ...(input.createOnly === true ? { createOnly: true } : {}) });
    return { output: { path: path.relative, sizeBytes: bytes.length }, status: 'ok', failed: false };
  },
};
