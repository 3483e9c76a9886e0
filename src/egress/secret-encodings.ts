/**
 * The spellings of one secret value that redaction looks for: the value itself,
 * URL-encoded (encodeURIComponent, form encoding, every byte percent-encoded),
 * hex, and base64 (standard and URL-safe, with and without padding, and the
 * secret at each of the three byte alignments inside a longer base64 stream, so
 * `Basic base64(user:secret)` or a JSON blob that was base64-encoded whole is
 * caught too). Case does not matter to the matcher, so hex and percent-encoding
 * are listed once.
 *
 * Not caught, by nature: encodings that depend on more than the value (gzip,
 * encryption, a value split across fields), and partial percent-encoding.
 */

/**
 * A base64 run shorter than this is too likely to occur by chance: the
 * alignment forms of very short secrets are left out (their other forms stay).
 */
export const MIN_ALIGNED_BASE64_CHARS = 8;

export function secretSpellings(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const out = new Set<string>([value]);
  out.add(encodeURIComponent(value));
  out.add(new URLSearchParams({ v: value }).toString().slice(2));
  out.add([...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''));
  out.add(bytes.toString('hex'));
  for (const b64 of [bytes.toString('base64'), bytes.toString('base64').replace(/=+$/, '')]) {
    out.add(b64);
    out.add(toUrlSafe(b64));
  }
  for (const core of alignedBase64(bytes)) {
    if (core.length < MIN_ALIGNED_BASE64_CHARS) continue;
    out.add(core);
    out.add(toUrlSafe(core));
  }
  return [...out].filter((s) => s !== '');
}

/**
 * For a secret starting at byte offset 0, 1 or 2 of a 3-byte base64 group: the
 * characters that encode only the secret's own bits, whatever surrounds it.
 * Character c covers bits [6c, 6c + 6) of the stream; the secret's bits are
 * [8a, 8(a + n)).
 */
function alignedBase64(bytes: Buffer): string[] {
  const cores: string[] = [];
  for (let a = 0; a < 3; a++) {
    const padded = Buffer.concat([Buffer.alloc(a), bytes, Buffer.alloc(2)]).toString('base64');
    const first = Math.ceil((8 * a) / 6);
    const end = Math.floor((8 * (a + bytes.length)) / 6);
    if (end > first) cores.push(padded.slice(first, end));
  }
  return cores;
}

function toUrlSafe(b64: string): string {
  return b64.replace(/\+/g, '-').replace(/\//g, '_');
}
