import type { AuthzResource, PrincipalFacts } from './authz-request.ts';
import type { CanonicalRequest } from './canonical-request.ts';
import type { CedarValueJson, EntityJson, TypeAndId } from './cedar.ts';

/**
 * Turns a canonical request into Cedar's JSON entity model. Only the entities
 * a request needs are sent: the principal (its groups ride along as parent
 * references, which is all `principal in Group::"g"` needs) and the resource.
 * Action entities and their groups come from the preparsed schema.
 *
 * Every id and value travels as a JSON string inside a typed slot, never as
 * Cedar source text, so no id (quotes, `::`, unicode, "__entity") can change
 * the shape of the request. Attribute values that are objects would be read
 * by Cedar as entity or extension escapes; canonicaliseRequest has already
 * refused anything but strings there.
 */

export type PrincipalType = 'Agent' | 'User';

/** `context` as every action receives it (RequestContext in the schema). A type alias, so it is a Cedar record. */
export type RequestContext = {
  session: { untrusted_content: boolean; sensitive_read: boolean; egress_hosts: string[]; calls: number };
  sandbox: { profile: string };
  annotations: { readOnlyHint: boolean; destructiveHint: boolean };
  delegated: boolean;
};

export interface CedarParts {
  readonly action: TypeAndId;
  readonly resource: TypeAndId;
  readonly resourceEntity: EntityJson;
  readonly context: RequestContext;
}

export function buildCedarParts(req: CanonicalRequest): CedarParts {
  const resourceEntity = buildResourceEntity(req.resource);
  return {
    action: { type: 'Action', id: req.action },
    resource: resourceEntity.uid as TypeAndId,
    resourceEntity,
    context: buildContext(req),
  };
}

export function buildPrincipalEntity(type: PrincipalType, p: PrincipalFacts): EntityJson {
  return {
    uid: { type, id: p.id },
    attrs: {},
    parents: p.groups.map((id) => ({ type: 'Group', id })),
    tags: { ...p.attributes },
  };
}

export function buildResourceEntity(r: AuthzResource): EntityJson {
  switch (r.kind) {
    case 'file': {
      const segments = r.path === '/' ? [] : r.path.slice(1).split('/');
      return entity('File', r.path, { path: r.path, name: segments.at(-1) ?? '', segments: [...new Set(segments)] });
    }
    case 'url': {
      const url = `${r.scheme}://${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}${r.path}`;
      return entity('Url', `${r.method} ${url}`, {
        url,
        scheme: r.scheme,
        host: r.host,
        port: r.port,
        path: r.path,
        method: r.method,
        trusted: r.trusted,
      });
    }
    case 'language':
      return entity('Language', r.language, { name: r.language });
    case 'profile':
      return entity('SandboxProfile', r.profile, { name: r.profile });
  }
}

export function buildContext(req: CanonicalRequest): RequestContext {
  const { session, sandbox, annotations } = req.context;
  return {
    session: {
      untrusted_content: session.untrusted_content,
      sensitive_read: session.sensitive_read,
      egress_hosts: [...session.egress_hosts],
      calls: session.calls,
    },
    sandbox: { profile: sandbox.profile },
    annotations: { readOnlyHint: annotations.readOnlyHint, destructiveHint: annotations.destructiveHint },
    delegated: req.user !== null,
  };
}

/** `Type::"id"`, escaped the way Cedar source would need it; for messages and explanations only. */
export function formatUid(uid: TypeAndId): string {
  return `${uid.type}::${JSON.stringify(uid.id)}`;
}

function entity(type: string, id: string, attrs: Record<string, CedarValueJson>): EntityJson {
  return { uid: { type, id }, attrs, parents: [] };
}
