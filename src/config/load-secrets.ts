import { readFileSync, statSync } from 'node:fs';
import { CordonError } from '../core/errors.ts';
import type { SecretSourceConfig } from './config-schema.ts';

const MAX_SECRET_BYTES = 64 * 1024;

/**
 * Reads every configured secret once, at start-up: from an environment
 * variable or a file. A missing secret stops start-up (naming the secret, never
 * its value) rather than sending requests without their credential.
 */
export function loadSecrets(sources: Readonly<Record<string, SecretSourceConfig>>, env: Readonly<Record<string, string | undefined>>): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const [name, source] of Object.entries(sources)) {
    let value: string | undefined;
    if ('env' in source) {
      value = env[source.env];
      if (value === undefined || value === '') throw new CordonError('CONFIG_INVALID', `secret ${name}: environment variable ${source.env} is not set`, { details: { field: `/egress/secrets/${name}` } });
    } else {
      try {
        if (statSync(source.file).size > MAX_SECRET_BYTES) throw new Error('too large');
        value = readFileSync(source.file, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new CordonError('CONFIG_INVALID', `secret ${name}: cannot read ${source.file}`, { cause: err, details: { field: `/egress/secrets/${name}` } });
      }
    }
    // A header value with CR/LF would let a secret inject headers of its own.
    if (/[\r\n\0]/.test(value) || value.length === 0) throw new CordonError('CONFIG_INVALID', `secret ${name}: empty, or contains a line break or NUL`, { details: { field: `/egress/secrets/${name}` } });
    out.set(name, value);
  }
  return out;
}
