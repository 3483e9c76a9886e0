import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { emptySessionFacts, NO_ANNOTATIONS, type AuthzRequest, type AuthzResource, type PrincipalFacts, type SessionFacts, type ToolAnnotations } from './authz-request.ts';
import { SCHEMA_FILE } from './load-policy-set.ts';

/** Helpers for the policy tests (and for other layers' tests that need policies). */

export const SHIPPED_POLICIES = resolve(import.meta.dirname, '..', '..', 'policies');
export const POLICY_TESTDATA = resolve(import.meta.dirname, '..', '..', 'testdata', 'policy');
export const SHIPPED_SCHEMA = readFileSync(join(SHIPPED_POLICIES, SCHEMA_FILE), 'utf8');

export interface TempPolicyDir {
  readonly dir: string;
  remove(): void;
}

/**
 * A throw-away policy folder: the shipped schema (unless `files` replaces it),
 * plus `files` (relative paths → contents), plus optionally a copy of `from`.
 */
export function createTempPolicyDir(files: Record<string, string> = {}, from?: string): TempPolicyDir {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-policy-'));
  if (from !== undefined) cpSync(from, dir, { recursive: true });
  else writeFileSync(join(dir, SCHEMA_FILE), SHIPPED_SCHEMA);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RequestOverrides {
  agent?: string | PrincipalFacts;
  user?: string | PrincipalFacts | null;
  action?: string;
  resource?: AuthzResource | string;
  session?: Partial<SessionFacts>;
  annotations?: Partial<ToolAnnotations>;
  profile?: string;
}

/** A request with sensible defaults; a string resource is a file path. */
export function makeRequest(o: RequestOverrides = {}): AuthzRequest {
  const principal = (p: string | PrincipalFacts): PrincipalFacts => (typeof p === 'string' ? { id: p, groups: [], attributes: {} } : p);
  const resource = o.resource ?? '/workspace/a.txt';
  return {
    agent: principal(o.agent ?? 'agent-1'),
    user: o.user === undefined || o.user === null ? null : principal(o.user),
    action: o.action ?? 'fs.read',
    resource: typeof resource === 'string' ? { kind: 'file', path: resource } : resource,
    context: {
      session: { ...emptySessionFacts(), ...o.session },
      sandbox: { profile: o.profile ?? 'default' },
      annotations: { ...NO_ANNOTATIONS, ...o.annotations },
    },
  };
}
