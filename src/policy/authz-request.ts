import { canonicalHost } from '../core/canonical-host.ts';
/**
 * The request the runner fills for every tool call. Everything in it is
 * derived by Cordon (config, the verified token, the tool registry and the
 * canonicalised tool input), never taken from what the agent says about itself.
 */

/** A principal: an agent (always) or the user it acts for (when delegated). */
export interface PrincipalFacts {
  readonly id: string;
  /** From config; strings only, visible to policies as entity tags. */
  readonly attributes: Readonly<Record<string, string>>;
  /** Every group the principal is in, already expanded (membership is flat). */
  readonly groups: readonly string[];
}

/** A file, by its canonical absolute path inside the sandbox (rooted at /workspace). */
export interface FileResource {
  readonly kind: 'file';
  readonly path: string;
}

/** A URL after canonicalisation; see parseUrlResource. */
export interface UrlResource {
  readonly kind: 'url';
  readonly scheme: 'http' | 'https' | 'ws' | 'wss';
  /**
   * Lower case, no trailing dot, IP literals in their canonical form; IPv6 without
   * brackets (`::1`), as egress policies, audit records and session facts spell it.
   */
  readonly host: string;
  readonly port: number;
  /** Normalised path, without query or fragment. */
  readonly path: string;
  readonly method: string;
  /** The host is marked trusted in Cordon's config. */
  readonly trusted: boolean;
}

export interface LanguageResource {
  readonly kind: 'language';
  readonly language: string;
}

export interface ProfileResource {
  readonly kind: 'profile';
  readonly profile: string;
}

export type AuthzResource = FileResource | UrlResource | LanguageResource | ProfileResource;

/** What the session has already done; Cordon derives these, the agent cannot set them. */
export interface SessionFacts {
  readonly untrusted_content: boolean;
  readonly sensitive_read: boolean;
  readonly egress_hosts: readonly string[];
  /** Tool calls made in this session before this one. */
  readonly calls: number;
}

/** The tool's annotations from the tool registry (MCP hints). */
export interface ToolAnnotations {
  readonly readOnlyHint: boolean;
  readonly destructiveHint: boolean;
}

export interface AuthzContext {
  readonly session: SessionFacts;
  readonly sandbox: { readonly profile: string };
  readonly annotations: ToolAnnotations;
}

export interface AuthzRequest {
  readonly agent: PrincipalFacts;
  /** The user a delegated agent acts for; null when the agent acts for itself. */
  readonly user: PrincipalFacts | null;
  /** The tool's verb: code.exec, fs.read, fs.write, fs.delete, net.fetch, browse.page, sandbox.create… */
  readonly action: string;
  readonly resource: AuthzResource;
  readonly context: AuthzContext;
}

export function emptySessionFacts(): SessionFacts {
  return { untrusted_content: false, sensitive_read: false, egress_hosts: [], calls: 0 };
}

export const NO_ANNOTATIONS: ToolAnnotations = Object.freeze({ readOnlyHint: false, destructiveHint: false });

/** The generic `{type, id, attributes}` a tool declares (tools/ owns that type; this is its shape). */
export interface ResourceDescriptor {
  readonly type: string;
  readonly id: string;
  readonly attributes?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * Maps a tool's resource descriptor to the typed resource the engine takes:
 * `language`/`javascript`, `file`/`/workspace/a.txt`, `url`/`https://…` (with
 * attributes `method` and `trusted`), `profile`/`default`. Returns null for a
 * type the engine does not know, or a URL that does not parse; the caller
 * refuses the call (deny by default).
 */
export function resourceFromDescriptor(d: ResourceDescriptor): AuthzResource | null {
  switch (d.type.toLowerCase()) {
    case 'language':
      return { kind: 'language', language: d.id };
    case 'file':
      return { kind: 'file', path: d.id };
    case 'profile':
    case 'sandboxprofile':
      return { kind: 'profile', profile: d.id };
    case 'url': {
      const a = d.attributes ?? {};
      const method = typeof a.method === 'string' ? a.method : 'GET';
      // A caller that canonicalised the URL itself (the egress layer, for net.fetch)
      // passes its parts: used as given — canonicaliseRequest still checks them — and
      // never re-parsed, so Cedar sees the host exactly as the guard dials it.
      if (typeof a.scheme === 'string' && typeof a.host === 'string' && typeof a.port === 'number' && typeof a.path === 'string') {
        return { kind: 'url', scheme: a.scheme as UrlResource['scheme'], host: a.host, port: a.port, path: a.path, method: method.toUpperCase(), trusted: a.trusted === true };
      }
      return parseUrlResource(d.id, method, a.trusted === true);
    }
    default:
      return null;
  }
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ws: 80, wss: 443 };

/**
 * Builds a canonical UrlResource from a URL string: WHATWG parsing lower-cases
 * the host, decodes IP literal encodings (0x7f.1 → 127.0.0.1) and resolves
 * dot segments; we drop a trailing dot, make the port explicit and drop the
 * query and fragment. Returns null for anything that is not an absolute
 * http(s)/ws(s) URL with a host.
 */
export function parseUrlResource(url: string, method = 'GET', trusted = false): UrlResource | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const scheme = parsed.protocol.slice(0, -1);
  if (!(scheme === 'http' || scheme === 'https' || scheme === 'ws' || scheme === 'wss')) return null;
  // The one host canonicaliser, the guard's own: Cedar sees the host the guard would dial.
  const host = canonicalHost(parsed.hostname);
  if (!host.ok || parsed.username !== '' || parsed.password !== '') return null;
  const port = parsed.port === '' ? (DEFAULT_PORTS[scheme] ?? 0) : Number(parsed.port);
  return { kind: 'url', scheme, host: host.host, port, path: parsed.pathname, method: method.toUpperCase(), trusted };
}
