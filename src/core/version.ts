import { readFileSync } from 'node:fs';

/** Cordon's version: package.json's, read once, so `--version`, `/healthz` and the package agree. */
export const CORDON_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
