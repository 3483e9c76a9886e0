/**
 * One error type for everything Cordon refuses or fails at. Callers match on
 * `code`, never on `message`. Each code is mapped once, here, to an HTTP
 * status and a CLI exit code.
 *
 * "The tool ran and its code failed" is NOT a CordonError: that is a normal
 * result with `status: "error"`.
 */

export interface ErrorSpec {
  readonly httpStatus: number;
  readonly exitCode: number;
  readonly doc: string;
}

/** CLI exit codes. 1 is reserved for "the tool ran and failed". */
export const ExitCode = {
  ok: 0,
  toolFailed: 1,
  usage: 2,
  config: 3,
  auth: 4,
  denied: 5,
  approval: 6,
  unavailable: 7,
  notFound: 8,
  conflict: 9,
  internal: 10,
} as const;

export const ERROR_CODES = {
  INPUT_INVALID: { httpStatus: 400, exitCode: ExitCode.usage, doc: 'Tool input or request body does not match its schema.' },
  REQUEST_MALFORMED: { httpStatus: 400, exitCode: ExitCode.usage, doc: 'The request body is not valid JSON, or a header is malformed.' },
  REQUEST_TOO_LARGE: { httpStatus: 413, exitCode: ExitCode.usage, doc: 'The request body exceeds the configured limit.' },
  UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, exitCode: ExitCode.usage, doc: 'The request body is not application/json.' },
  USAGE: { httpStatus: 400, exitCode: ExitCode.usage, doc: 'A command was called with bad arguments.' },
  AUTH_MISSING_TOKEN: { httpStatus: 401, exitCode: ExitCode.auth, doc: 'No bearer token was sent.' },
  AUTH_INVALID_TOKEN: { httpStatus: 401, exitCode: ExitCode.auth, doc: 'The bearer token failed verification; details.reason says why.' },
  TOKEN_REQUEST_INVALID: { httpStatus: 400, exitCode: ExitCode.auth, doc: 'A token request is malformed, or a token in it is invalid (OAuth invalid_request); details.reason says why.' },
  TOKEN_CLIENT_INVALID: { httpStatus: 401, exitCode: ExitCode.auth, doc: 'The client assertion failed verification or was already used (OAuth invalid_client).' },
  TOKEN_GRANT_UNSUPPORTED: { httpStatus: 400, exitCode: ExitCode.usage, doc: 'The grant_type is not one Cordon serves (OAuth unsupported_grant_type).' },
  TOKEN_SCOPE_INVALID: { httpStatus: 400, exitCode: ExitCode.usage, doc: 'The requested scope is malformed (OAuth invalid_scope).' },
  TOKEN_TARGET_INVALID: { httpStatus: 400, exitCode: ExitCode.usage, doc: 'The requested audience or resource is not this Cordon (OAuth invalid_target).' },
  POLICY_DENIED: { httpStatus: 403, exitCode: ExitCode.denied, doc: 'Authorization denied the call.' },
  APPROVAL_REQUIRED: { httpStatus: 403, exitCode: ExitCode.approval, doc: 'An egress request or a sandbox creation needs a human approval, which only tool calls can wait for (they answer 202 pending_approval instead).' },
  // Approvals. A refused decision changes nothing: the approval stays as it was, the nonce unused.
  APPROVAL_NOT_FOUND: { httpStatus: 404, exitCode: ExitCode.notFound, doc: 'No approval with that id (a decision names an approval Cordon never stored).' },
  APPROVAL_SIGNATURE_INVALID: { httpStatus: 401, exitCode: ExitCode.auth, doc: 'A decision statement is not signed by the approver it names (unknown approver, bad or missing signature), or its iat/exp are out of bounds; details.reason says which.' },
  APPROVAL_NOT_PERMITTED: { httpStatus: 403, exitCode: ExitCode.denied, doc: 'The approver is not allowed to decide this call (its tools or groups in approvals.approvers do not cover it).' },
  APPROVAL_HASH_MISMATCH: { httpStatus: 409, exitCode: ExitCode.conflict, doc: 'The statement\'s invocationHash is not the hash of the stored call: the approver saw something else. Nothing was decided.' },
  APPROVAL_ALREADY_DECIDED: { httpStatus: 409, exitCode: ExitCode.conflict, doc: 'The approval was already approved or denied; a call is decided once.' },
  APPROVAL_REPLAYED: { httpStatus: 409, exitCode: ExitCode.conflict, doc: 'The statement\'s nonce was already used: each signed statement counts once.' },
  APPROVAL_EXPIRED: { httpStatus: 410, exitCode: ExitCode.approval, doc: 'The approval expired before anyone decided (approvals.ttlMs); the call never ran. Ask again.' },
  APPROVAL_DENIED: { httpStatus: 403, exitCode: ExitCode.denied, doc: 'An approver denied the call (details.approver names them); it never ran.' },
  APPROVAL_RUN_INTERRUPTED: { httpStatus: 500, exitCode: ExitCode.internal, doc: 'The approved call was running when Cordon stopped; it is never run a second time. Check its effects, then ask again.' },
  INVOCATION_NOT_FOUND: { httpStatus: 404, exitCode: ExitCode.notFound, doc: 'No invocation with that id waits for or went through approval for this caller (another principal\'s look the same).' },
  OPERATOR_LOGIN_FAILED: { httpStatus: 401, exitCode: ExitCode.auth, doc: 'Operator login refused: unknown name, wrong password, or a login link that is unknown, used or expired (one answer for all).' },
  OPERATOR_CSRF_INVALID: { httpStatus: 403, exitCode: ExitCode.auth, doc: 'A state-changing request of an operator session lacks its CSRF token (x-cordon-csrf), or sends a wrong one, or comes from another origin.' },
  OPERATOR_FORBIDDEN: { httpStatus: 403, exitCode: ExitCode.denied, doc: 'The authenticated operator may not do this: a decision must name the operator who sends it.' },
  OPERATOR_HASH_MISMATCH: { httpStatus: 409, exitCode: ExitCode.conflict, doc: "The invocation hash the server reports differs from the operator's own recomputation of the invocation shown; nothing was signed." },
  NOT_FOUND: { httpStatus: 404, exitCode: ExitCode.notFound, doc: 'No such route.' },
  TOOL_NOT_FOUND: { httpStatus: 404, exitCode: ExitCode.notFound, doc: 'No tool with that name is registered.' },
  AGENT_NOT_FOUND: { httpStatus: 404, exitCode: ExitCode.notFound, doc: 'No agent with that id is registered.' },
  METHOD_NOT_ALLOWED: { httpStatus: 405, exitCode: ExitCode.usage, doc: 'The route exists but not for this HTTP method.' },
  AGENT_EXISTS: { httpStatus: 409, exitCode: ExitCode.conflict, doc: 'An agent with that id already has a key.' },
  RATE_LIMITED: { httpStatus: 429, exitCode: ExitCode.unavailable, doc: 'A quota is used up (details.quota names it: agent_concurrency, agent_queue, global_queue, agent_sessions, sessions, …); retry later.' },
  CALL_CANCELLED: { httpStatus: 499, exitCode: ExitCode.unavailable, doc: 'The client went away before the answer; the call left the queue or was stopped (audit outcome "cancelled").' },
  EGRESS_DENIED: { httpStatus: 403, exitCode: ExitCode.denied, doc: 'The egress policy refused the request; details.reason says which check, details.rule which rule.' },
  EGRESS_REQUEST_INVALID: { httpStatus: 400, exitCode: ExitCode.usage, doc: 'The egress URL or CONNECT target is malformed; details.reason is invalid_request.' },
  EGRESS_RESOLUTION_FAILED: { httpStatus: 502, exitCode: ExitCode.unavailable, doc: 'The egress host did not resolve.' },
  EGRESS_UPSTREAM_FAILED: { httpStatus: 502, exitCode: ExitCode.unavailable, doc: 'The upstream connection failed or broke, its response was too large, or a secret to inject is missing; details.reason says which.' },
  EGRESS_UPSTREAM_TIMEOUT: { httpStatus: 504, exitCode: ExitCode.unavailable, doc: 'Connecting to the upstream timed out, or it was idle too long.' },
  EGRESS_LIMITED: { httpStatus: 429, exitCode: ExitCode.unavailable, doc: 'The sandbox hit an egress limit (request rate, open connections, bytes); retry later or raise the limit.' },
  FS_INVALID_PATH: { httpStatus: 400, exitCode: ExitCode.usage, doc: 'A workspace path is malformed (NUL, control character, backslash, too long, too deep); details.reason says which rule.' },
  FS_OUTSIDE_WORKSPACE: { httpStatus: 403, exitCode: ExitCode.denied, doc: 'A workspace path leaves the workspace (`..`, an absolute path outside /workspace, or a symlink on the way).' },
  FS_NOT_FOUND: { httpStatus: 404, exitCode: ExitCode.notFound, doc: 'No file or directory at that workspace path (or a parent is missing).' },
  FS_EXISTS: { httpStatus: 409, exitCode: ExitCode.conflict, doc: 'Something already exists at the target workspace path (create-only write, move without overwrite, non-empty directory).' },
  FS_NOT_A_FILE: { httpStatus: 409, exitCode: ExitCode.conflict, doc: 'The workspace path names a directory or special file where a regular file is needed.' },
  FS_NOT_A_DIRECTORY: { httpStatus: 409, exitCode: ExitCode.conflict, doc: 'The workspace path (or one of its parents) names a file where a directory is needed.' },
  FS_TOO_LARGE: { httpStatus: 413, exitCode: ExitCode.usage, doc: 'A file or content exceeds the byte limit for the operation; details.limitBytes gives it.' },
  FS_EDIT_NO_MATCH: { httpStatus: 409, exitCode: ExitCode.conflict, doc: 'The text to replace does not occur in the file; nothing was written.' },
  FS_EDIT_AMBIGUOUS: { httpStatus: 409, exitCode: ExitCode.conflict, doc: 'The text to replace occurs more than once (details.count); add context or pass replaceAll. Nothing was written.' },
  FS_EDIT_CONFLICT: { httpStatus: 409, exitCode: ExitCode.conflict, doc: 'A unified diff does not apply cleanly; details.hunk names the first failing hunk. Nothing was written.' },
  BROWSE_CONTENT_UNSUPPORTED: { httpStatus: 422, exitCode: ExitCode.usage, doc: 'browse.fetch got content it does not read (images, archives, PDFs: not text or HTML); details.contentType says what it was.' },
  NOTE_INVALID: { httpStatus: 400, exitCode: ExitCode.usage, doc: 'A signed note (an audit checkpoint, a receipt\'s) or a verifier key is malformed, too large, or not signed by a known key; details.reason says which.' },
  CONFIG_INVALID: { httpStatus: 500, exitCode: ExitCode.config, doc: 'A configuration file, variable or flag is invalid; details name the source and field.' },
  KEY_INVALID: { httpStatus: 500, exitCode: ExitCode.config, doc: 'A key file is missing, unreadable or not the expected kind of key.' },
  SANDBOX_NOT_FOUND: { httpStatus: 404, exitCode: ExitCode.notFound, doc: 'No live sandbox with that id belongs to the caller (unknown, expired, deleted, or its host died).' },
  SANDBOX_UNAVAILABLE: { httpStatus: 503, exitCode: ExitCode.unavailable, doc: 'The sandbox backend a profile needs is not there (no Docker engine answers); the message says how to enable it.' },
  SANDBOX_FAILED: { httpStatus: 500, exitCode: ExitCode.internal, doc: 'A sandbox could not be created or failed outside the tool code.' },
  AUDIT_UNAVAILABLE: { httpStatus: 503, exitCode: ExitCode.unavailable, doc: 'The audit log cannot be written (disk full, I/O error): a call Cordon cannot record is refused, never run or answered unrecorded; the runner log says why.' },
  UNAVAILABLE: { httpStatus: 503, exitCode: ExitCode.unavailable, doc: 'The service is shutting down or a dependency is unavailable.' },
  INTERNAL: { httpStatus: 500, exitCode: ExitCode.internal, doc: 'An unexpected failure; the log has the details.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface CordonErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class CordonError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: CordonErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CordonError';
    this.code = code;
    this.details = options.details ?? {};
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exitCode;
  }
}

export function isCordonError(err: unknown): err is CordonError {
  return err instanceof CordonError;
}

/** Any thrown value as a CordonError; unknown failures become INTERNAL without their message. */
export function toCordonError(err: unknown): CordonError {
  if (err instanceof CordonError) return err;
  return new CordonError('INTERNAL', 'internal error', { cause: err });
}
