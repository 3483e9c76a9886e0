import { CordonError } from '../core/errors.ts';
import { canonicalHost } from './canonical-host.ts';
import { canonicalIp } from '../core/ip-address.ts';
import type { Resolver } from './resolver.ts';

/**
 * A resolver from a fixed table: tests map `*.test` names to 127.0.0.x, and
 * `cordon egress check --resolve NAME=IP` uses it so the CLI never looks anything up.
 */
export interface StaticResolverOptions {
  /** Answer for names not in the table; when omitted they fail to resolve. */
  readonly fallback?: readonly string[];
}

/**
 * What `cordon egress check` assumes for names not given with --resolve: a public
 * address that is never dialled. 2000::1 is global unicast by our table yet
 * unallocated, so it cannot be mistaken for a real answer in the output.
 */
export const ASSUMED_PUBLIC_ADDRESS = '2000::1';

export function createStaticResolver(table: Readonly<Record<string, readonly string[] | string>>, options: StaticResolverOptions = {}): Resolver {
  const map = new Map<string, readonly string[]>();
  for (const [name, value] of Object.entries(table)) {
    const host = canonicalHost(name);
    if (!host.ok || host.kind !== 'dns') throw new CordonError('USAGE', `cannot resolve "${name}": ${host.ok ? 'it is an IP address' : host.reason}`);
    map.set(host.host, checkAddresses(name, typeof value === 'string' ? [value] : value));
  }
  const fallback = options.fallback === undefined ? null : checkAddresses('fallback', options.fallback);
  return {
    resolve(host) {
      const answers = map.get(host) ?? fallback;
      if (answers === null) return Promise.reject(new Error(`${host} is not in the static resolver table`));
      return Promise.resolve(answers);
    },
  };
}

function checkAddresses(name: string, values: readonly string[]): readonly string[] {
  if (values.length === 0) throw new CordonError('USAGE', `no addresses given for "${name}"`);
  return values.map((v) => {
    const ip = canonicalIp(v.trim().replace(/^\[(.*)\]$/, '$1'));
    if (ip === null) throw new CordonError('USAGE', `"${v}" (for ${name}) is not an IP address`);
    return ip;
  });
}

/** Parses one `--resolve NAME=IP[,IP...]` value into the table. */
export function parseResolveOption(value: string, into: Record<string, string[]> = {}): Record<string, string[]> {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) throw new CordonError('USAGE', `--resolve "${value}" must be NAME=IP[,IP...]`);
  const name = value.slice(0, eq).trim();
  const ips = value.slice(eq + 1).split(',').map((s) => s.trim());
  checkAddresses(name, ips);
  into[name] = [...(into[name] ?? []), ...ips];
  return into;
}
