import { CordonError } from '../../src/core/errors.ts';
import { CordonClientError } from '../../src/client/index.ts';

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

/** The CordonClientError `promise` rejects with; anything else it rejects with, or resolving, fails the test. */
export async function clientRefusal(promise: Promise<unknown>): Promise<CordonClientError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof CordonClientError) return err;
    throw err;
  }
  throw new Error('expected a CordonClientError, the call succeeded');
}
