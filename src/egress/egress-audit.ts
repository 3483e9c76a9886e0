import type { EgressReasonCode } from './egress-reason.ts';

/**
 * One record per egress decision, allowed or denied: the counterpart of
 * smokescreen's canonical decision log line. Written when the request or tunnel
 * ends, so it carries bytes, status and duration. It never holds header values,
 * query strings or bodies: those may carry secrets.
 */
export interface EgressAuditRecord {
  /** ISO time of the decision. */
  readonly time: string;
  readonly sandbox: string;
  readonly sandboxUri: string;
  readonly profile: string;
  readonly agent: string;
  readonly user: string | null;
  readonly channel: 'unix' | 'tcp' | 'fetch';
  readonly kind: 'http' | 'connect';
  readonly scheme: 'http' | 'https' | 'connect' | null;
  readonly host: string | null;
  readonly port: number | null;
  /** The pinned address that was (or would have been) dialled. */
  readonly address: string | null;
  readonly method: string | null;
  /** Path without the query; null for CONNECT. */
  readonly path: string | null;
  readonly result: 'allow' | 'deny';
  readonly code: EgressReasonCode;
  readonly reason: string;
  readonly rule: string | null;
  readonly policy: string | null;
  /** Report mode: enforce would have refused this. */
  readonly wouldDeny: boolean;
  /** The HTTP status Cordon (or the upstream, through Cordon) answered; 0 if the connection ended first. */
  readonly status: number;
  readonly bytesToUpstream: number;
  readonly bytesFromUpstream: number;
  readonly durationMs: number;
  /** Names (never values) of headers Cordon injected. */
  readonly injected: readonly string[];
  /** For the fetch bridge: which redirect hop this was (0 = the first request). */
  readonly redirectHop?: number;
}

/** Where records go; the audit layer implements this. It must not throw. */
export interface EgressAuditSink {
  record(entry: EgressAuditRecord): void;
}

/** Keeps records in memory: for tests and for `cordon run` output. */
export function createMemoryAuditSink(): EgressAuditSink & { readonly records: EgressAuditRecord[] } {
  const records: EgressAuditRecord[] = [];
  return { records, record: (entry) => void records.push(entry) };
}
