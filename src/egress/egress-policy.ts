import type { Cidr } from '../core/ip-address.ts';
import type { HostIndex } from './host-index.ts';
import type { HostPattern } from './host-pattern.ts';
import type { PathPattern } from './path-pattern.ts';
import type { SecretTemplate } from './secret-template.ts';

/**
 * A compiled egress policy: what `egress-policies/<name>.yaml` says, validated
 * and indexed once at load. Nothing here is re-parsed per request.
 */
export type EgressMode = 'enforce' | 'report' | 'open';
export type RuleScheme = 'http' | 'https';

export interface InjectSpec {
  /** Header name, lower case. */
  readonly header: string;
  readonly value: SecretTemplate;
}

export interface EgressRule {
  /** Stable id for decisions and audit: `<policy>.allow[2]`, `<policy>.deny[0]`. */
  readonly id: string;
  readonly list: 'allow' | 'deny';
  readonly host: HostPattern;
  /** null: for allow rules the scheme's default port (443 for https and CONNECT, 80 for http); for deny rules every port. */
  readonly ports: readonly number[] | null;
  /** null: http and https (CONNECT counts as https: the tunnel must carry TLS). */
  readonly schemes: readonly RuleScheme[] | null;
  /** null: any method. Upper case. */
  readonly methods: readonly string[] | null;
  /** null: any path. */
  readonly paths: readonly PathPattern[] | null;
  readonly inject: InjectSpec | null;
  readonly source: SourceLocation;
}

export interface CidrRule {
  readonly id: string;
  readonly cidr: Cidr;
  readonly source: SourceLocation;
}

export interface SourceLocation {
  readonly file: string;
  readonly line: number;
}

export interface EgressPolicy {
  readonly name: string;
  readonly mode: EgressMode;
  /** Content fetched under this policy does not set the untrusted_content session fact. */
  readonly trusted: boolean;
  readonly allow: readonly EgressRule[];
  readonly deny: readonly EgressRule[];
  readonly allowCidrs: readonly CidrRule[];
  readonly denyCidrs: readonly CidrRule[];
  readonly allowIndex: HostIndex<EgressRule>;
  readonly denyIndex: HostIndex<EgressRule>;
  readonly source: SourceLocation;
  /** What loads but is probably not meant (policy-warnings.ts); printed by validate, logged by serve. */
  readonly warnings: readonly PolicyProblem[];
}

/** A problem found while loading a policy: file, 1-based line, and what to fix. */
export interface PolicyProblem {
  readonly file: string;
  readonly line: number;
  readonly reason: string;
}

export function formatProblem(p: PolicyProblem): string {
  return `${p.file}:${p.line}: ${p.reason}`;
}
