import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CordonError } from '../../core/errors.ts';

/** One `deb` source of the machine's apt configuration. */
export interface AptSource {
  readonly uri: string;
  readonly suites: readonly string[];
  readonly components: readonly string[];
}

/** The Debian archive images are built from: the machine's own, never one written into the project. */
export interface DebianArchive {
  readonly uri: string;
  readonly suite: string;
}

const MAX_SOURCES_FILE_BYTES = 256 * 1024;
const MAX_SOURCES_FILES = 64;
// A suite or component is a plain word; a URI is http(s) in printable ASCII without space,
// quotes, backslash, backtick or angle brackets.
const WORD = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/;
const URI = /^https?:\/\/[!#-&(-;=?-[\]-_a-~]{1,500}$/;

/**
 * Reads `deb` sources from apt's files: the one-line form (`sources.list`,
 * `*.list`) and deb822 stanzas (`*.sources`). `deb-src`, disabled stanzas and
 * anything malformed are skipped: this only picks an archive to read from.
 */
export function parseAptSources(files: readonly { readonly path: string; readonly text: string }[]): AptSource[] {
  const out: AptSource[] = [];
  const add = (uri: string | undefined, suites: string[], components: string[]) => {
    if (uri === undefined || !URI.test(uri) || suites.length === 0 || !suites.every((s) => WORD.test(s)) || !components.every((c) => WORD.test(c))) return;
    out.push(Object.freeze({ uri: uri.replace(/\/+$/, ''), suites: Object.freeze(suites), components: Object.freeze(components) }));
  };
  for (const { path, text } of files) {
    if (path.endsWith('.sources')) {
      for (const stanza of text.split(/\n[ \t]*\n/)) {
        const fields = new Map<string, string>();
        let last: string | null = null;
        for (const line of stanza.split('\n')) {
          if (line.startsWith('#') || line.trim() === '') continue;
          if (/^[ \t]/.test(line) && last !== null) {
            fields.set(last, `${fields.get(last) ?? ''} ${line.trim()}`);
            continue;
          }
          const m = /^([A-Za-z0-9-]+):(.*)$/.exec(line);
          if (m === null) continue;
          last = (m[1] ?? '').toLowerCase();
          fields.set(last, (m[2] ?? '').trim());
        }
        if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
        if (/^(no|false)$/i.test(fields.get('enabled') ?? 'yes')) continue;
        const words = (name: string) => (fields.get(name) ?? '').split(/\s+/).filter((w) => w !== '');
        for (const uri of words('uris')) add(uri, words('suites'), words('components'));
      }
    } else {
      for (const raw of text.split('\n')) {
        const line = raw.replace(/#.*$/, '').trim();
        if (!line.startsWith('deb ') && !line.startsWith('deb\t')) continue;
        // `deb [arch=amd64 signed-by=…] uri suite components…`
        const rest = line.slice(4).trim().replace(/^\[[^\]]*\]\s*/, '');
        const [uri, suite, ...components] = rest.split(/\s+/);
        add(uri, suite === undefined ? [] : [suite], components);
      }
    }
  }
  return out;
}

/**
 * The archive and release to debootstrap from: the first `deb` source naming a
 * release itself (`bookworm`, not `bookworm-updates` or `bookworm-security`).
 */
export function pickDebianArchive(sources: readonly AptSource[]): DebianArchive | null {
  for (const s of sources) {
    const suite = s.suites.find((x) => /^[a-z]+$/.test(x));
    if (suite !== undefined && s.components.includes('main')) return Object.freeze({ uri: s.uri, suite });
  }
  return null;
}

/** The machine's Debian archive, from its apt configuration (`/etc/apt`). */
export function readDebianArchive(aptDir = '/etc/apt'): DebianArchive {
  const files: { path: string; text: string }[] = [];
  const read = (path: string) => {
    if (!existsSync(path) || files.length >= MAX_SOURCES_FILES) return;
    const text = readFileSync(path);
    if (text.length <= MAX_SOURCES_FILE_BYTES) files.push({ path, text: text.toString('utf8') });
  };
  read(join(aptDir, 'sources.list'));
  const dir = join(aptDir, 'sources.list.d');
  if (existsSync(dir)) for (const name of readdirSync(dir).sort()) if (name.endsWith('.list') || name.endsWith('.sources')) read(join(dir, name));
  const archive = pickDebianArchive(parseAptSources(files));
  if (archive === null) {
    throw new CordonError('CONFIG_INVALID', `no Debian archive with a release suite and "main" in ${aptDir}/sources.list or sources.list.d; images are built from the machine's own apt sources (or pass --mirror URI --suite NAME)`);
  }
  return archive;
}
