export { applyReplace, type ReplaceEdit } from './apply-edit.ts';
export { editFile, type EditResult, type FileEdit } from './edit-file.ts';
export { applyUnifiedDiff, parseUnifiedDiff } from './unified-diff.ts';
export { compileGlob } from './glob.ts';
