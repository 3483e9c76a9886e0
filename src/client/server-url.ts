import { CordonClientError } from './client-errors.ts';

function invalid(message: string): CordonClientError {
  return new CordonClientError('CLIENT_OPTIONS_INVALID', message, { details: { field: 'url' } });
}

/** localhost, 127.0.0.0/8 and ::1: where plain http never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host === '[::1]') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The server's base URL, checked once. Plain http is refused for a host off this machine
 * unless the caller says so: every request carries a bearer token, and a delegated one acts
 * for a user for up to 15 minutes. No credentials, query or fragment: they would be sent,
 * or silently dropped, with every call.
 */
export function parseServerUrl(raw: unknown, allowInsecureHttp: boolean): URL {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2048) throw invalid('url must be the server\'s base URL, e.g. http://127.0.0.1:7070');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`url ${JSON.stringify(raw.slice(0, 100))} is not a URL; e.g. http://127.0.0.1:7070`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`url must be http or https, not ${url.protocol}`);
  if (url.username !== '' || url.password !== '') throw invalid('url must not carry a user name or password; the client signs its own tokens');
  if (url.search !== '' || url.hash !== '') throw invalid('url must not have a query or fragment');
  if (url.protocol === 'http:' && !allowInsecureHttp && !isLoopbackHost(url.hostname)) {
    throw invalid(`plain http to ${url.hostname} would send bearer tokens in clear; use https, or pass allowInsecureHttp: true`);
  }
  return url;
}
