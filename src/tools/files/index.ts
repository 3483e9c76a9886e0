export { applyReplace, type ReplaceEdit } from './apply-edit.ts';
export { editFile, type EditResult, type FileEdit } from './edit-file.ts';
export { applyUnifiedDiff, parseUnifiedDiff } from './unified-diff.ts';
export {
  mkdir,
  readFile,
  stat,
  writeFile,
  type EntryType,
  type ReadOptions,
  type ReadResult,
  type WorkspaceStat,
  type WriteOptions,
} from './workspace-fs.ts';
export {
  MAX_COMPONENT_BYTES,
  MAX_DEPTH,
  MAX_PATH_BYTES,
  SANDBOX_WORKSPACE,
  parseWorkspacePath,
  workspaceResourcePath,
  type WorkspacePath,
} from './workspace-path.ts';
export { list, move, remove, type ListEntry, type ListOptions, type ListResult } from './workspace-tree.ts';
