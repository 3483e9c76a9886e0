import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The approvals page's files, read once at start: a request never names a path on disk. */
export interface StaticAsset {
  readonly body: Buffer;
  readonly contentType: string;
}

const STATIC_DIR = join(import.meta.dirname, 'static');

const FILES: Readonly<Record<string, string>> = {
  'approvals.html': 'text/html; charset=utf-8',
  'approvals.js': 'text/javascript; charset=utf-8',
  'canonical-json.js': 'text/javascript; charset=utf-8',
  'approvals.css': 'text/css; charset=utf-8',
};

export function loadStaticAssets(dir = STATIC_DIR): ReadonlyMap<string, StaticAsset> {
  return new Map(Object.entries(FILES).map(([name, contentType]) => [name, Object.freeze({ body: readFileSync(join(dir, name)), contentType })]));
}
