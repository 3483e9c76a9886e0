/** One line of the audit log. Fields are flat and stable; consumers parse them. */
export interface AuditRecord {
  readonly ts: string;
  readonly kind: 'invocation' | 'auth' | 'egress' | 'sandbox';
  readonly id: string;
  readonly requestId: string | null;
  readonly agent: string | null;
  readonly user: string | null;
  readonly tokenId: string | null;
  readonly tool: string | null;
  readonly action: string | null;
  readonly resource: string | null;
  readonly sandbox: string | null;
  readonly decision: { readonly result: string; readonly reason: string; readonly ruleId: string | null; readonly details?: Readonly<Record<string, unknown>> } | null;
  /**
   * The tool's status when it ran, or the error code when Cordon refused. `started`: written
   * (and on disk) before the call's sandbox runs, so a call that crashes the process leaves
   * evidence; its final record follows with the same `invocation`.
   */
  readonly outcome: string;
  readonly durationMs: number;
  readonly inputSha256: string | null;
  /** The client's address, for records of requests that carry no principal (failed authentication). */
  readonly source?: string;
  /** For kind "invocation": the invocation id returned to the client (`inv_…`). */
  readonly invocation?: string;
  /** The session the call belongs to, when it has one (a session sandbox's is `#sandbox/<id>`). */
  readonly session?: string;
  /**
   * Repeated refusals are counted, not written one by one (see repeat-aggregator.ts): the first
   * of a window has `count: 1`, the rest of the window is one record with `count`, `firstAt`
   * and `lastAt` (ISO times of the first and last counted). Sum `count` for the total.
   */
  readonly count?: number;
  readonly firstAt?: string;
  readonly lastAt?: string;
  /** For kind "egress": the egress layer's record (host, port, pinned address, bytes, status, rule…; never header values or bodies). */
  readonly egress?: Readonly<Record<string, unknown>>;
}

export interface AuditSink {
  /**
   * Takes its place in the log at once (order = append order); the promise resolves when the
   * record, and every record before it, is written (on disk in durable mode), and rejects with
   * AUDIT_UNAVAILABLE when it cannot be. Once one append has failed, every later one fails
   * (fail closed: no record after a lost one is ever reported written). What a caller does
   * with a failure: audit-append.ts.
   */
  append(record: AuditRecord): Promise<void>;
  /** Writes what is pending, then closes; resolves even after a failure (that was reported once). */
  close(): Promise<void>;
}
