/** What a session has already done; Cordon derives every fact, the agent can set none. */
export interface SessionFactsSnapshot {
  readonly untrusted_content: boolean;
  readonly sensitive_read: boolean;
  readonly egress_hosts: readonly string[];
  /** Tool calls that ran in this session before this one. */
  readonly calls: number;
}

/** What a running tool may report about itself; it can only ever add facts. */
export interface SessionFactsSink {
  noteUntrustedContent(host: string): void;
  noteSensitiveRead(what: string): void;
  noteEgressHost(host: string): void;
}
