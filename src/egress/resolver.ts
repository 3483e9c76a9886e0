import { Resolver as DnsResolver } from 'node:dns/promises';

/**
 * Cordon is the only resolver a sandbox has. A Resolver answers A and AAAA for a
 * canonical host name; the decider checks every answer and pins one.
 */
export interface Resolver {
  /** All A and AAAA answers, as address text. Rejects (or returns []) when the name does not resolve. */
  resolve(host: string, signal?: AbortSignal): Promise<readonly string[]>;
}

export interface SystemResolverOptions {
  /** Per query. */
  readonly timeoutMs?: number;
  readonly tries?: number;
  /** DNS servers (`ip` or `ip:port`); the system's when omitted. */
  readonly servers?: readonly string[];
}

/**
 * Production resolver: asks DNS directly for A and AAAA (c-ares), in parallel.
 * It does not read /etc/hosts: names a sandbox asks for are public-DNS questions,
 * and the host's own aliases are not the sandbox's business.
 */
export function createSystemResolver(options: SystemResolverOptions = {}): Resolver {
  const dns = new DnsResolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
  if (options.servers !== undefined) dns.setServers([...options.servers]);
  return {
    async resolve(host, signal) {
      // Not dns.cancel(): that would cancel every query on this shared resolver,
      // including other sandboxes'. An aborted caller just stops waiting.
      const lookup = Promise.allSettled([dns.resolve4(host), dns.resolve6(host)]);
      const aborted = new Promise<never>((_, reject) => {
        if (signal?.aborted === true) reject(new Error('resolution aborted'));
        signal?.addEventListener('abort', () => reject(new Error('resolution aborted')), { once: true });
      });
      const [v4, v6] = await Promise.race([lookup, aborted]);
      const answers = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
      if (answers.length === 0) {
        const err = v4.status === 'rejected' ? v4.reason : v6.status === 'rejected' ? v6.reason : new Error('no A or AAAA records');
        throw err instanceof Error ? err : new Error(String(err));
      }
      return answers;
    },
  };
}
