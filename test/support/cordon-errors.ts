import { CordonError } from '../../src/core/errors.ts';

/** The CordonError `fn` throws; anything else it throws, or no throw, fails the test. */
export function thrownCordonError(fn: () => unknown): CordonError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CordonError) return err;
    throw err;
  }
  throw new Error('expected a CordonError');
}

/** The `code` of what `promise` rejects with; undefined when it resolves. */
export async function rejectionCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}
