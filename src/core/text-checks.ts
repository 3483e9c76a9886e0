/** C0 controls (U+0000–U+001F), space and DEL. */
export function hasControlOrSpace(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** CR, LF or NUL: what would split or truncate a header. */
export function hasLineBreakOrNul(text: string): boolean {
  return text.includes('\r') || text.includes('\n') || text.includes('\u0000');
}
