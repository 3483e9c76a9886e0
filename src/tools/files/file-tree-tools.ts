import type { WorkspaceStat } from '../../sandbox/index.ts';
import type { ToolDefinition } from '../tool.ts';
import { fileResource, PATH_SCHEMA, pathOf, FILE_TOOL } from './file-tool-support.ts';

type Path = { path: string };
const PATH_ONLY = { type: 'object', additionalProperties: false, required: ['path'], properties: { path: PATH_SCHEMA } } as const;
const PATH_OUT = { type: 'object', required: ['path'], properties: { path: { type: 'string' } } } as const;

export const fileStatTool: ToolDefinition<Path, WorkspaceStat> = {
  name: 'file.stat',
  description: 'Describes one entry of the sandbox workspace: type (file, directory, symlink, other), size, modification time and permission bits. A symlink is described, never followed.',
  inputSchema: PATH_ONLY,
  outputSchema: {
    type: 'object',
    required: ['path', 'type', 'sizeBytes', 'mtimeMs', 'mode'],
    properties: { path: { type: 'string' }, type: { enum: ['file', 'directory', 'symlink', 'other'] }, sizeBytes: { type: 'integer' }, mtimeMs: { type: 'number' }, mode: { type: 'integer' } },
  },
  actions: ['fs.read'],
  action: () => 'fs.read',
  ...FILE_TOOL,
  annotations: { title: 'Describe a file', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  resource: (input) => fileResource(pathOf(input)),
  async run(input, context) {
    return { output: await context.sandbox.workspace.stat(pathOf(input)), status: 'ok', failed: false };
  },
};

export const fileMkdirTool: ToolDefinition<Path, Path> = {
  name: 'file.mkdir',
  description: 'Makes a directory in the sandbox workspace, with any missing parents; an existing directory is fine.',
  inputSchema: PATH_ONLY,
  outputSchema: PATH_OUT,
  actions: ['fs.write'],
  action: () => 'fs.write',
  ...FILE_TOOL,
  annotations: { title: 'Make a directory', readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  resource: (input) => fileResource(pathOf(input)),
  async run(input, context) {
    const path = pathOf(input);
    await context.sandbox.workspace.mkdir(path);
    return { output: { path: path.relative }, status: 'ok', failed: false };
  },
};

export interface FileMoveInput {
  from: string;
  to: string;
  overwrite?: boolean;
}

/**
 * A move writes at both ends: `fs.write` on the destination (the call's resource) and on
 * the source, which stops existing. Replacing an existing destination destroys what was
 * there, so with `overwrite` it is also an `fs.delete` of the destination.
 */
export const fileMoveTool: ToolDefinition<FileMoveInput, { from: string; to: string }> = {
  name: 'file.move',
  description: 'Moves or renames a file or directory inside the sandbox workspace. An existing destination is refused (FS_EXISTS) unless "overwrite"; replacing it is destructive and policies may ask for approval.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['from', 'to'],
    properties: { from: PATH_SCHEMA, to: PATH_SCHEMA, overwrite: { type: 'boolean', description: 'Replace what is at "to".' } },
  },
  outputSchema: { type: 'object', required: ['from', 'to'], properties: { from: { type: 'string' }, to: { type: 'string' } } },
  actions: ['fs.write', 'fs.delete'],
  action: () => 'fs.write',
  ...FILE_TOOL,
  annotations: { title: 'Move a file', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  annotationsFor: (input) => ({ title: 'Move a file', readOnlyHint: false, destructiveHint: input.overwrite === true, idempotentHint: false, openWorldHint: false }),
  resource: (input) => fileResource(pathOf(input, 'to')),
  extraActions: (input) => [
    { action: 'fs.write', resource: fileResource(pathOf(input, 'from')) },
    ...(input.overwrite === true ? [{ action: 'fs.delete', resource: fileResource(pathOf(input, 'to')) }] : []),
  ],
  async run(input, context) {
    const from = pathOf(input, 'from');
    const to = pathOf(input, 'to');
    await context.sandbox.workspace.move(from, to, input.overwrite === true ? { overwrite: true } : {});
    return { output: { from: from.relative, to: to.relative }, status: 'ok', failed: false };
  },
};

export interface FileDeleteInput {
  path: string;
  recursive?: boolean;
}

export const fileDeleteTool: ToolDefinition<FileDeleteInput, Path> = {
  name: 'file.delete',
  description: 'Deletes a file or a symlink (never its target) from the sandbox workspace; a directory only with "recursive". Irreversible: policies may ask for an operator\'s approval first.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: { path: PATH_SCHEMA, recursive: { type: 'boolean', description: 'Delete a directory and everything in it.' } },
  },
  outputSchema: PATH_OUT,
  actions: ['fs.delete'],
  action: () => 'fs.delete',
  ...FILE_TOOL,
  annotations: { title: 'Delete a file', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  resource: (input) => fileResource(pathOf(input)),
  async run(input, context) {
    const path = pathOf(input);
    await context.sandbox.workspace.remove(path, input.recursive === true ? { recursive: true } : {});
    return { output: { path: path.relative }, status: 'ok', failed: false };
  },
};
