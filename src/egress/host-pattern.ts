import { canonicalHost, type HostKind } from './canonical-host.ts';

/**
 * The `host:` of a policy rule. Exact hosts (names or IP literals) and leading
 * wildcards only: `*.example.com` means one or more labels under example.com and
 * never example.com itself. Everything looser is refused at load, because a
 * pattern that matches more than its author meant is an allowlist hole.
 */
export type HostPattern =
  | { readonly kind: 'exact'; readonly host: string; readonly hostKind: HostKind }
  | { readonly kind: 'suffix'; readonly suffix: string };

export interface ParsedHostField {
  readonly pattern: HostPattern;
  /** From `host:port` shorthand, or null. */
  readonly port: number | null;
}

export type ParseHostFieldResult = { readonly ok: true; readonly value: ParsedHostField } | { readonly ok: false; readonly reason: string };

const fail = (reason: string): ParseHostFieldResult => ({ ok: false, reason });

export function parseHostField(raw: string): ParseHostFieldResult {
  const text = raw.trim();
  if (text === '') return fail('host is empty');
  if (text.includes('://') || /^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return fail(`host "${raw}" contains a scheme; write the host alone and list schemes under "schemes"`);
  }
  if (/[/?#]/.test(text)) return fail(`host "${raw}" contains a path or query; write the host alone and list paths under "paths"`);
  if (text.includes('@')) return fail(`host "${raw}" contains userinfo ("@")`);

  let hostText = text;
  let port: number | null = null;
  if (text.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
    if (m === null) return fail(`host "${raw}": malformed bracketed IPv6 address`);
    hostText = `[${m[1]}]`;
    if (m[2] !== undefined) {
      const p = parsePort(m[2]);
      if (typeof p === 'string') return fail(`host "${raw}": ${p}`);
      port = p;
    }
  } else if ((text.match(/:/g) ?? []).length > 1) {
    // `2001:db8::1:443` is both a valid address and an address plus a port. Refuse
    // rather than guess: brackets say which one was meant.
    return fail(`host "${raw}": write IPv6 addresses in brackets, e.g. [2001:db8::1] or [2001:db8::1]:443`);
  } else if (text.includes(':')) {
    const i = text.indexOf(':');
    hostText = text.slice(0, i);
    const p = parsePort(text.slice(i + 1));
    if (typeof p === 'string') return fail(`host "${raw}": ${p}`);
    port = p;
  }

  if (hostText.includes('*')) {
    if (hostText === '*') return fail('a bare "*" would allow every host; use mode: open for that');
    if (!hostText.startsWith('*.')) {
      return hostText.startsWith('*')
        ? fail(`host "${raw}": a wildcard must be a whole label, e.g. "*.example.com", not "*example.com"`)
        : fail(`host "${raw}": a wildcard is allowed only as the whole first label, e.g. "*.example.com"`);
    }
    const suffixText = hostText.slice(2);
    if (suffixText.includes('*')) return fail(`host "${raw}": only one wildcard, as the whole first label`);
    const suffix = canonicalHost(suffixText);
    if (!suffix.ok) return fail(`host "${raw}": ${suffix.reason}`);
    if (suffix.kind !== 'dns') return fail(`host "${raw}": a wildcard cannot cover an IP address`);
    if (!suffix.host.includes('.')) {
      return fail(`host "${raw}": "*.${suffix.host}" would match a whole top-level domain; name at least two labels, e.g. "*.example.${suffix.host}"`);
    }
    return { ok: true, value: { pattern: { kind: 'suffix', suffix: suffix.host }, port } };
  }

  const host = canonicalHost(hostText);
  if (!host.ok) return fail(`host "${raw}": ${host.reason}`);
  return { ok: true, value: { pattern: { kind: 'exact', host: host.host, hostKind: host.kind }, port } };
}

export function parsePort(text: string): number | string {
  if (!/^\d{1,5}$/.test(text)) return `port "${text}" is not a number`;
  const port = Number(text);
  if (port < 1 || port > 65535) return `port ${port} is outside 1–65535`;
  return port;
}

export function formatHostPattern(p: HostPattern): string {
  if (p.kind === 'suffix') return `*.${p.suffix}`;
  return p.hostKind === 'ipv6' ? `[${p.host}]` : p.host;
}
