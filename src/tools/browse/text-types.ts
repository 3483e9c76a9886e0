/**
 * How `browse.fetch` treats a response body, from its Content-Type header.
 * `html` is parsed into readable text; `text` is returned as is; `binary` is
 * refused (or summarised) rather than decoded into noise.
 *
 * SVG is `text`: it is XML an agent can read, and it is never rendered here, so
 * its scripts cannot run. A missing or unparsable header is `binary`: we do not
 * sniff, because guessing "text" would hand an agent decoded garbage.
 */
export type TextType = 'html' | 'text' | 'binary';

const HTML_TYPES = new Set(['text/html', 'application/xhtml+xml']);
const TEXT_APPLICATION_TYPES = new Set(['application/json', 'application/xml', 'application/javascript', 'application/ecmascript', 'application/x-ndjson', 'application/yaml', 'application/toml']);

export function classifyContentType(header: string | null | undefined): TextType {
  if (header == null) return 'binary';
  const essence = (header.split(';', 1)[0] ?? '').trim().toLowerCase();
  const match = /^([a-z0-9!#$%&'*+.^_`|~-]+)\/([a-z0-9!#$%&'*+.^_`|~-]+)$/.exec(essence);
  if (!match) return 'binary';
  if (HTML_TYPES.has(essence)) return 'html';
  const [, type, subtype = ''] = match;
  if (type === 'text') return 'text';
  if (TEXT_APPLICATION_TYPES.has(essence)) return 'text';
  if (subtype.endsWith('+json') || subtype.endsWith('+xml')) return 'text';
  return 'binary';
}
