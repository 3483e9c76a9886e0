import { CordonError } from '../../core/errors.ts';
import type { SandboxWorkspace, WorkspacePath } from '../../sandbox/index.ts';
import { applyReplace, type ReplaceEdit } from './apply-edit.ts';
import { applyUnifiedDiff } from './unified-diff.ts';

export type FileEdit = ({ readonly kind: 'replace' } & ReplaceEdit) | { readonly kind: 'diff'; readonly diff: string };

export interface EditResult {
  readonly sizeBytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Applies an edit to a UTF-8 text file: read whole, edit in memory (pure functions that
 * throw before anything is written), then one atomic write. On any failure the file
 * is byte-identical. A concurrent writer between the read and the write is not
 * detected (last writer wins), as with any editor; the write itself is still atomic.
 */
export async function editFile(workspace: SandboxWorkspace, path: WorkspacePath, edit: FileEdit, options: { maxBytes: number }): Promise<EditResult> {
  const shown = JSON.stringify(path.relative);
  const read = await workspace.read(path, { maxBytes: options.maxBytes });
  if (read.truncated) {
    throw new CordonError('FS_TOO_LARGE', `${shown} is larger than ${options.maxBytes} bytes, too large to edit; write it whole instead`, {
      details: { limitBytes: options.maxBytes },
    });
  }
  let text: string;
  try {
    text = utf8.decode(read.content);
  } catch (err) {
    throw new CordonError('INPUT_INVALID', `${shown} is not UTF-8 text, so it cannot be edited as text; write it whole instead`, { cause: err, details: { reason: 'not_utf8' } });
  }
  const next = edit.kind === 'replace' ? applyReplace(text, edit) : applyUnifiedDiff(text, edit.diff);
  const bytes = Buffer.from(next, 'utf8');
  await workspace.write(path, bytes, { maxBytes: options.maxBytes });
  return { sizeBytes: bytes.length };
}
