import { CordonError } from '../../core/errors.ts';
import type { ToolDefinition } from '../tool.ts';
import { fileResource, PATH_SCHEMA, pathOf, FILE_TOOL } from './file-tool-support.ts';
import { isSensitivePath } from './sensitive-paths.ts';

export interface FileReadInput {
  path: string;
  offset?: number;
  limit?: number;
  encoding?: 'utf8' | 'base64';
}

export interface FileReadOutput {
  path: string;
  encoding: 'utf8' | 'base64';
  content: string;
  /** The whole file's size. */
  sizeBytes: number;
  offset: number;
  /** Bytes of the file this answer holds. */
  bytes: number;
  /** More of the file follows: read on from nextOffset. */
  truncated: boolean;
  nextOffset?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * UTF-8 text of `bytes`. A read cut short may end inside a character: the partial
 * character is left for the next read (nextOffset says where), never mangled.
 */
function decodeText(bytes: Buffer, cut: boolean, path: string): { text: string; used: number } {
  for (let drop = 0; drop <= (cut ? 3 : 0) && drop <= bytes.length; drop += 1) {
    try {
      return { text: utf8.decode(bytes.subarray(0, bytes.length - drop)), used: bytes.length - drop };
    } catch {
      // try one byte fewer
    }
  }
  throw new CordonError('INPUT_INVALID', `${JSON.stringify(path)} is not UTF-8 text; read it with "encoding": "base64"`, { details: { field: '/encoding', reason: 'not_utf8' } });
}

export const fileReadTool: ToolDefinition<FileReadInput, FileReadOutput> = {
  name: 'file.read',
  description:
    'Reads a file of the sandbox workspace: UTF-8 text (default) or base64 for any bytes. Large files are read in parts: "offset" and "limit" in bytes; a cut answer says truncated and the nextOffset to read on from. Symlinks are never followed.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: PATH_SCHEMA,
      offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Byte offset to start at (default 0).' },
      limit: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: "Most bytes to return; at most the profile's result size." },
      encoding: { enum: ['utf8', 'base64'], description: 'utf8 (default): text, refused for bytes that are not UTF-8; base64: any bytes.' },
    },
  },
  outputSchema: {
    type: 'object',
    required: ['path', 'encoding', 'content', 'sizeBytes', 'offset', 'bytes', 'truncated'],
    properties: {
      path: { type: 'string' }, encoding: { enum: ['utf8', 'base64'] }, content: { type: 'string' }, sizeBytes: { type: 'integer' },
      offset: { type: 'integer' }, bytes: { type: 'integer' }, truncated: { type: 'boolean' }, nextOffset: { type: 'integer' },
    },
  },
  actions: ['fs.read'],
  action: () => 'fs.read',
  ...FILE_TOOL,
  annotations: { title: 'Read a file', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  resource: (input) => fileResource(pathOf(input)),

  async run(input, context) {
    const path = pathOf(input);
    const encoding = input.encoding ?? 'utf8';
    // base64 grows by a third: the answer stays within the profile's result size either way.
    const cap = encoding === 'base64' ? Math.floor((context.limits.resultBytes * 3) / 4) : context.limits.resultBytes;
    const offset = input.offset ?? 0;
    const read = await context.sandbox.workspace.read(path, { offset, maxBytes: Math.max(1, cap), ...(input.limit === undefined ? {} : { limit: input.limit }) });
    // Noted once the bytes are out of the workspace: a failed read ingested nothing.
    if (isSensitivePath(context.profile.sensitivePaths, path.relative)) context.session.noteSensitiveRead(path.relative);
    const start = Math.min(offset, read.sizeBytes);
    let content: string;
    let used: number;
    if (encoding === 'base64') {
      content = read.content.toString('base64');
      used = read.content.length;
    } else {
      ({ text: content, used } = decodeText(read.content, read.truncated, path.relative));
    }
    const truncated = start + used < read.sizeBytes;
    const output: FileReadOutput = { path: path.relative, encoding, content, sizeBytes: read.sizeBytes, offset: start, bytes: used, truncated, ...(truncated ? { nextOffset: start + used } : {}) };
    return { output, status: 'ok', failed: false };
  },
};
