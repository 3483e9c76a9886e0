import { describe, expect, it } from 'vitest';
import { CordonError, ERROR_CODES, ExitCode, type ErrorCode } from './errors.ts';

// Codes clients and the CLI rely on (workspace files, audit): status and exit code are API.
const FS_CODES: Record<string, readonly [number, number]> = {
  FS_INVALID_PATH: [400, ExitCode.usage],
  FS_OUTSIDE_WORKSPACE: [403, ExitCode.denied],
  FS_NOT_FOUND: [404, ExitCode.notFound],
  FS_EXISTS: [409, ExitCode.conflict],
  FS_NOT_A_FILE: [409, ExitCode.conflict],
  FS_NOT_A_DIRECTORY: [409, ExitCode.conflict],
  FS_TOO_LARGE: [413, ExitCode.usage],
  FS_EDIT_NO_MATCH: [409, ExitCode.conflict],
  FS_EDIT_AMBIGUOUS: [409, ExitCode.conflict],
  FS_EDIT_CONFLICT: [409, ExitCode.conflict],
  BROWSE_CONTENT_UNSUPPORTED: [422, ExitCode.usage],
  // The operator channel: the CLI's exit codes and the page's handling depend on these.
  OPERATOR_LOGIN_FAILED: [401, ExitCode.auth],
  OPERATOR_CSRF_INVALID: [403, ExitCode.auth],
  OPERATOR_FORBIDDEN: [403, ExitCode.denied],
  OPERATOR_HASH_MISMATCH: [409, ExitCode.conflict],
  APPROVAL_NOT_FOUND: [404, ExitCode.notFound],
  // A call that cannot be recorded is refused as "try later", like any missing dependency.
  AUDIT_UNAVAILABLE: [503, ExitCode.unavailable],
};

// The approval codes operators' tools and agents match on: the signed-decision checks and what a
// waiting agent is told.
const APPROVAL_CODES: Record<string, readonly [number, number]> = {
  APPROVAL_NOT_FOUND: [404, ExitCode.notFound],
  APPROVAL_SIGNATURE_INVALID: [401, ExitCode.auth],
  APPROVAL_NOT_PERMITTED: [403, ExitCode.denied],
  APPROVAL_HASH_MISMATCH: [409, ExitCode.conflict],
  APPROVAL_ALREADY_DECIDED: [409, ExitCode.conflict],
  APPROVAL_REPLAYED: [409, ExitCode.conflict],
  APPROVAL_EXPIRED: [410, ExitCode.approval],
  APPROVAL_DENIED: [403, ExitCode.denied],
  APPROVAL_RUN_INTERRUPTED: [500, ExitCode.internal],
  INVOCATION_NOT_FOUND: [404, ExitCode.notFound],
};

describe('error table', () => {
  it.each(Object.entries({ ...FS_CODES, ...APPROVAL_CODES }))('%s maps to its HTTP status and exit code', (code, [status, exit]) => {
    const err = new CordonError(code as ErrorCode, 'x');
    expect([err.httpStatus, err.exitCode]).toEqual([status, exit]);
  });

  it('every code is UPPER_SNAKE, documented, and exits with something other than "the tool failed"', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z]+(?:_[A-Z]+)*$/u);
      expect(spec.doc.length).toBeGreaterThan(10);
      expect(spec.exitCode).not.toBe(ExitCode.toolFailed);
    }
  });
});
