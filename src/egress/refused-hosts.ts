/**
 * Names refused before any lookup, whatever the policy says. Resolution would
 * refuse most of them anyway (their addresses are loopback or metadata), but a
 * name check does not depend on what a resolver answers today.
 */
const LOCALHOST_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

export const METADATA_HOST_NAMES: ReadonlySet<string> = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.internal',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.ec2.internal',
  'metadata.tencentyun.com',
  'metadata.platformequinix.com',
]);

export type RefusedHostKind = 'localhost' | 'metadata';

/** Expects a canonical host (lower case, no trailing dot). */
export function refusedHostKind(host: string): RefusedHostKind | null {
  // RFC 6761: *.localhost always means this machine.
  if (LOCALHOST_NAMES.has(host) || host.endsWith('.localhost')) return 'localhost';
  if (METADATA_HOST_NAMES.has(host)) return 'metadata';
  return null;
}

export function isRefusedHostName(host: string): boolean {
  return refusedHostKind(host) !== null;
}
