import { hasLineBreakOrNul } from '../core/text-checks.ts';

/**
 * `value: "Bearer ${secret:GITHUB_TOKEN}"` in an inject rule. Parsed at load so a
 * typo fails there; expanded only after a request was allowed.
 */
export type TemplatePart = { readonly literal: string } | { readonly secret: string };

export interface SecretTemplate {
  readonly text: string;
  readonly parts: readonly TemplatePart[];
  readonly secretNames: readonly string[];
}

const SECRET_REF = /\$\{([^}]*)\}/g;
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseSecretTemplate(text: string): SecretTemplate | { error: string } {
  if (hasLineBreakOrNul(text)) return { error: 'inject value contains CR, LF or NUL' };
  const parts: TemplatePart[] = [];
  const names: string[] = [];
  let last = 0;
  for (const m of text.matchAll(SECRET_REF)) {
    const inner = m[1] ?? '';
    if (!inner.startsWith('secret:')) return { error: `"\${${inner}}" is not a secret reference; write \${secret:NAME}` };
    const name = inner.slice('secret:'.length);
    if (!SECRET_NAME.test(name)) return { error: `secret name "${name}" must match [A-Za-z_][A-Za-z0-9_]*` };
    if (m.index > last) parts.push({ literal: text.slice(last, m.index) });
    parts.push({ secret: name });
    names.push(name);
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push({ literal: text.slice(last) });
  if (parts.some((p) => 'literal' in p && p.literal.includes('${'))) return { error: 'unterminated "${" in inject value' };
  return { text, parts, secretNames: names };
}

/** Where `${secret:NAME}` values come from (environment, files; wired by config). */
export interface SecretStore {
  get(name: string): string | undefined;
}

export function createStaticSecretStore(values: Readonly<Record<string, string>>): SecretStore {
  const map = new Map(Object.entries(values));
  return { get: (name) => map.get(name) };
}

export type ExpandResult = { readonly ok: true; readonly value: string; readonly secretValues: readonly string[] } | { readonly ok: false; readonly missing: string };

export function expandSecretTemplate(template: SecretTemplate, store: SecretStore): ExpandResult {
  let value = '';
  const secretValues: string[] = [];
  for (const part of template.parts) {
    if ('literal' in part) {
      value += part.literal;
      continue;
    }
    const secret = store.get(part.secret);
    // A secret with CR/LF would split the header: treat it as missing, never send it.
    if (secret === undefined || secret === '' || hasLineBreakOrNul(secret)) return { ok: false, missing: part.secret };
    value += secret;
    secretValues.push(secret);
  }
  return { ok: true, value, secretValues };
}
