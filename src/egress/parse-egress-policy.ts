import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import { CordonError } from '../core/errors.ts';
import { createHostIndex } from './host-index.ts';
import { parseHostField } from './host-pattern.ts';
import { parseCidr } from '../core/ip-address.ts';
import { parsePathPattern, type PathPattern } from './path-pattern.ts';
import { parseSecretTemplate } from './secret-template.ts';
import { isRefusedHostName } from './refused-hosts.ts';
import { METADATA_ADDRESSES } from './classify-address.ts';
import { egressPolicyWarnings } from './policy-warnings.ts';
import { formatProblem, type CidrRule, type EgressMode, type EgressPolicy, type EgressRule, type InjectSpec, type PolicyProblem, type RuleScheme } from './egress-policy.ts';

/** The keys a policy file may have; anything else is refused at load (docs/egress-policy-reference.md lists each). */
export const EGRESS_POLICY_KEYS = ['name', 'description', 'mode', 'allow', 'deny', 'allow_cidrs', 'deny_cidrs', 'trusted'] as const;
/** The keys of an allow rule; a deny rule takes the same but `inject`. */
export const EGRESS_RULE_KEYS = ['host', 'ports', 'schemes', 'methods', 'paths', 'inject', 'description'] as const;
export const EGRESS_INJECT_KEYS = ['header', 'value'] as const;
const TOP_KEYS: ReadonlySet<string> = new Set(EGRESS_POLICY_KEYS);
const RULE_KEYS: ReadonlySet<string> = new Set(EGRESS_RULE_KEYS);
const DENY_RULE_KEYS: ReadonlySet<string> = new Set(EGRESS_RULE_KEYS.filter((k) => k !== 'inject'));
const INJECT_KEYS: ReadonlySet<string> = new Set(EGRESS_INJECT_KEYS);
const MODES: readonly EgressMode[] = ['enforce', 'report', 'open'];
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Headers that frame the message or address the proxy: injecting them would let a
// policy desynchronise the upstream connection or the proxy's own checks.
const UNINJECTABLE = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'proxy-authorization', 'proxy-connection', 'proxy-authenticate']);

class Ctx {
  readonly problems: PolicyProblem[] = [];
  readonly file: string;
  readonly lines: LineCounter;
  constructor(file: string, lines: LineCounter) {
    this.file = file;
    this.lines = lines;
  }
  line(node: Node | Pair | null | undefined): number {
    const n = node !== null && node !== undefined && 'range' in node ? node : (node as Pair | undefined)?.key;
    const offset = (n as Node | undefined)?.range?.[0] ?? 0;
    return this.lines.linePos(offset).line;
  }
  fail(node: Node | Pair | null | undefined, reason: string): void {
    this.problems.push({ file: this.file, line: this.line(node), reason });
  }
}

/**
 * Parses and compiles one policy file. Throws CONFIG_INVALID listing every
 * problem as `file:line: reason` (details.problems has them structured).
 */
export function parseEgressPolicy(text: string, file: string): EgressPolicy {
  const result = compileEgressPolicy(text, file);
  if ('problems' in result) throw policyError(result.problems);
  return result.policy;
}

export function policyError(problems: readonly PolicyProblem[]): CordonError {
  const shown = problems.slice(0, 20).map(formatProblem);
  const more = problems.length > shown.length ? `\n… and ${problems.length - shown.length} more` : '';
  return new CordonError('CONFIG_INVALID', `invalid egress policy:\n${shown.join('\n')}${more}`, { details: { problems } });
}

/** Like parseEgressPolicy, but returns the problems instead of throwing. */
export function compileEgressPolicy(text: string, file: string): { policy: EgressPolicy } | { problems: readonly PolicyProblem[] } {
  const lines = new LineCounter();
  const ctx = new Ctx(file, lines);
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, strict: true });
  for (const err of doc.errors) ctx.problems.push({ file, line: lines.linePos(err.pos[0]).line, reason: err.message.split('\n')[0] ?? 'YAML syntax error' });
  if (ctx.problems.length > 0) return { problems: ctx.problems };
  const root = doc.contents;
  if (!isMap(root)) {
    ctx.fail(root, 'a policy file must be a mapping with at least "name"');
    return { problems: ctx.problems };
  }
  const fields = readMap(ctx, root, TOP_KEYS);
  const name = fields.get('name');
  let policyName = 'invalid';
  if (name === undefined) ctx.fail(root, 'missing "name"');
  else {
    const v = str(ctx, name, 'name');
    if (v !== null && !NAME.test(v)) ctx.fail(name, `name "${v}" must be lower case letters, digits, ".", "_" or "-" (max 63)`);
    else if (v !== null) policyName = v;
  }
  let mode: EgressMode = 'enforce';
  const modeNode = fields.get('mode');
  if (modeNode !== undefined) {
    const v = str(ctx, modeNode, 'mode');
    if (v !== null && !(MODES as readonly string[]).includes(v)) ctx.fail(modeNode, `mode "${v}" must be one of ${MODES.join(', ')}`);
    else if (v !== null) mode = v as EgressMode;
  }
  let trusted = false;
  const trustedNode = fields.get('trusted');
  if (trustedNode !== undefined) {
    if (isScalar(trustedNode) && typeof trustedNode.value === 'boolean') trusted = trustedNode.value;
    else ctx.fail(trustedNode, '"trusted" must be true or false');
  }
  const allow = readRules(ctx, fields.get('allow'), 'allow', policyName);
  const deny = readRules(ctx, fields.get('deny'), 'deny', policyName);
  const allowCidrs = readCidrs(ctx, fields.get('allow_cidrs'), 'allow_cidrs', policyName);
  const denyCidrs = readCidrs(ctx, fields.get('deny_cidrs'), 'deny_cidrs', policyName);
  if (ctx.problems.length > 0) return { problems: ctx.problems };
  const policy: EgressPolicy = Object.freeze({
    name: policyName,
    mode,
    trusted,
    allow,
    deny,
    allowCidrs,
    denyCidrs,
    allowIndex: createHostIndex(allow.map((rule) => ({ host: rule.host, rule }))),
    denyIndex: createHostIndex(deny.map((rule) => ({ host: rule.host, rule }))),
    source: { file, line: ctx.line(root) },
    warnings: Object.freeze(egressPolicyWarnings(file, allow, allowCidrs)),
  });
  return { policy };
}

function readMap(ctx: Ctx, map: YAMLMap, allowed: ReadonlySet<string>): Map<string, Node> {
  const out = new Map<string, Node>();
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : null;
    if (key === null) {
      ctx.fail(pair as Pair, 'keys must be plain strings');
      continue;
    }
    if (!allowed.has(key)) {
      ctx.fail(pair.key as Node, `unknown key "${key}"; expected one of ${[...allowed].join(', ')}`);
      continue;
    }
    const value = pair.value as Node | null;
    if (value === null || (isScalar(value) && value.value === null)) {
      ctx.fail(pair.key as Node, `"${key}" has no value`);
      continue;
    }
    if (isAlias(value)) {
      ctx.fail(value, 'YAML aliases are not supported in policies; write the value out');
      continue;
    }
    out.set(key, value);
  }
  return out;
}

function str(ctx: Ctx, node: Node, what: string): string | null {
  if (isScalar(node) && typeof node.value === 'string') return node.value;
  ctx.fail(node, `"${what}" must be a string`);
  return null;
}

function seq(ctx: Ctx, node: Node | undefined, what: string): Node[] {
  if (node === undefined) return [];
  if (!isSeq(node)) {
    ctx.fail(node, `"${what}" must be a list`);
    return [];
  }
  const items: Node[] = [];
  for (const item of node.items) {
    if (isAlias(item)) ctx.fail(item as Node, 'YAML aliases are not supported in policies');
    else items.push(item as Node);
  }
  return items;
}

function readRules(ctx: Ctx, node: Node | undefined, list: 'allow' | 'deny', policy: string): EgressRule[] {
  const rules: EgressRule[] = [];
  seq(ctx, node, list).forEach((item, index) => {
    if (!isMap(item)) {
      ctx.fail(item, `each ${list} entry must be a mapping with "host"`);
      return;
    }
    const rule = readRule(ctx, item, list, `${policy}.${list}[${index}]`);
    if (rule !== null) rules.push(rule);
  });
  return rules;
}

function readRule(ctx: Ctx, item: YAMLMap, list: 'allow' | 'deny', id: string): EgressRule | null {
  const before = ctx.problems.length;
  const f = readMap(ctx, item, list === 'allow' ? RULE_KEYS : DENY_RULE_KEYS);
  const hostNode = f.get('host');
  if (hostNode === undefined) {
    ctx.fail(item, `${list} entry has no "host"`);
    return null;
  }
  const hostText = str(ctx, hostNode, 'host');
  const parsed = hostText === null ? null : parseHostField(hostText);
  if (parsed !== null && !parsed.ok) ctx.fail(hostNode, parsed.reason);
  const host = parsed?.ok === true ? parsed.value : null;
  if (list === 'allow' && host !== null && host.pattern.kind === 'exact') {
    const h = host.pattern.host;
    if (isRefusedHostName(h) || METADATA_ADDRESSES.has(h)) ctx.fail(hostNode, `host "${hostText}" is always refused (localhost and cloud metadata are never reachable)`);
  }

  let ports: number[] | null = null;
  const portsNode = f.get('ports');
  if (portsNode !== undefined) {
    ports = [];
    for (const p of seq(ctx, portsNode, 'ports')) {
      const v = isScalar(p) ? p.value : undefined;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) ctx.fail(p, `port ${String(v)} must be an integer in 1–65535`);
      else ports.push(v);
    }
    if (ports.length === 0 && ctx.problems.length === before) ctx.fail(portsNode, list === 'allow' ? '"ports" is empty; omit it for the default port' : '"ports" is empty; omit it to deny every port');
    if (host?.port !== null && host?.port !== undefined) ctx.fail(portsNode, 'the port is given twice: in "host" and in "ports"');
  } else if (host?.port !== null && host?.port !== undefined) {
    ports = [host.port];
  }

  const schemes = readList<RuleScheme>(ctx, f.get('schemes'), 'schemes', (s) =>
    s === 'http' || s === 'https' ? { value: s } : { error: `scheme "${s}" must be http or https (CONNECT tunnels count as https)` },
  );
  const methods = readList<string>(ctx, f.get('methods'), 'methods', (s) => {
    const m = s.toUpperCase();
    if (!TOKEN.test(m)) return { error: `method "${s}" is not an HTTP method` };
    if (m === 'CONNECT') return { error: 'CONNECT is not a method rules match; a CONNECT tunnel is matched by host and port' };
    return { value: m };
  });
  const paths = readList<PathPattern>(ctx, f.get('paths'), 'paths', (s) => {
    const p = parsePathPattern(s);
    return 'error' in p ? p : { value: p };
  });

  let inject: InjectSpec | null = null;
  const injectNode = f.get('inject');
  if (injectNode !== undefined) {
    if (!isMap(injectNode)) ctx.fail(injectNode, '"inject" must be a mapping with "header" and "value"');
    else {
      const g = readMap(ctx, injectNode, INJECT_KEYS);
      const headerNode = g.get('header');
      const valueNode = g.get('value');
      if (headerNode === undefined || valueNode === undefined) ctx.fail(injectNode, '"inject" needs both "header" and "value"');
      else {
        const header = str(ctx, headerNode, 'inject.header');
        const value = str(ctx, valueNode, 'inject.value');
        if (header !== null && !TOKEN.test(header)) ctx.fail(headerNode, `header "${header}" is not a valid header name`);
        else if (header !== null && (UNINJECTABLE.has(header.toLowerCase()) || header.toLowerCase().startsWith('proxy-'))) {
          ctx.fail(headerNode, `header "${header}" cannot be injected`);
        }
        const template = value === null ? null : parseSecretTemplate(value);
        if (template !== null && 'error' in template) ctx.fail(valueNode, template.error);
        if (schemes?.includes('http') === true) ctx.fail(f.get('schemes'), 'inject on a rule that allows http would send the secret in clear text; set schemes: [https]');
        if (header !== null && template !== null && !('error' in template)) inject = { header: header.toLowerCase(), value: template };
      }
    }
  }
  if (ctx.problems.length > before || host === null) return null;
  return Object.freeze({ id, list, host: host.pattern, ports, schemes, methods, paths, inject, source: { file: ctx.file, line: ctx.line(item) } });
}

type Checked<T> = { value: T } | { error: string };

function readList<T>(ctx: Ctx, node: Node | undefined, what: string, check: (s: string) => Checked<T>): T[] | null {
  if (node === undefined) return null;
  const out: T[] = [];
  for (const item of seq(ctx, node, what)) {
    const s = str(ctx, item, what);
    if (s === null) continue;
    const v = check(s);
    if ('error' in v) ctx.fail(item, v.error);
    else out.push(v.value);
  }
  if (isSeq(node) && node.items.length === 0) ctx.fail(node, `"${what}" is empty; omit it to allow any`);
  return out;
}

function readCidrs(ctx: Ctx, node: Node | undefined, what: 'allow_cidrs' | 'deny_cidrs', policy: string): CidrRule[] {
  const out: CidrRule[] = [];
  seq(ctx, node, what).forEach((item, index) => {
    const text = str(ctx, item, what);
    if (text === null) return;
    const parsed = parseCidr(text.trim());
    if ('error' in parsed) return ctx.fail(item, `${what}: ${parsed.error}`);
    if (parsed.family === 6 && parsed.prefixLength >= 96 && parsed.bytes.slice(0, 12).every((b, i) => b === (i >= 10 ? 0xff : 0))) {
      return ctx.fail(item, `${what}: "${text}" is IPv4-mapped; write the IPv4 range instead`);
    }
    if (what === 'allow_cidrs' && parsed.prefixLength === 0) {
      return ctx.fail(item, `allow_cidrs: "${text}" would open every private range; list the ranges you need`);
    }
    out.push({ id: `${policy}.${what}[${index}]`, cidr: parsed, source: { file: ctx.file, line: ctx.line(item) } });
  });
  return out;
}
