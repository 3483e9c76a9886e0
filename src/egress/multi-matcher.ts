/**
 * Finding many literal needles in one pass (Aho–Corasick), so redacting N secret
 * values in every encoding costs one scan of the text, not one scan per needle:
 * an output of n units against needles of total length m is O(n + m + matches),
 * never O(n × needles). ASCII letters match case-insensitively (hex and
 * percent-encoding come in either case); over-matching only ever redacts more.
 *
 * Units are UTF-16 code units for strings and bytes for buffers: one automaton
 * each, built from the same needles.
 */
export interface MultiMatcher {
  /** Longest needle, in units: what a stream must hold back between chunks. */
  readonly maxLength: number;
  /**
   * The [start, end) ranges covered by at least one match, merged and in order.
   * Every unit of every occurrence is inside a range, even where matches overlap.
   */
  ranges(length: number, unitAt: (i: number) => number): Array<[number, number]>;
}

const fold = (u: number): number => (u >= 0x41 && u <= 0x5a ? u + 0x20 : u);

export function createMultiMatcher(needles: ReadonlyArray<ArrayLike<number>>): MultiMatcher {
  // Transitions in one map keyed by node * 2^16 + unit (units are < 2^16).
  const goto = new Map<number, number>();
  const depth: number[] = [0];
  const terminal: boolean[] = [false];
  let maxLength = 0;
  for (const needle of needles) {
    if (needle.length === 0) continue;
    maxLength = Math.max(maxLength, needle.length);
    let node = 0;
    for (let i = 0; i < needle.length; i++) {
      const key = node * 65536 + fold(needle[i] ?? 0);
      let next = goto.get(key);
      if (next === undefined) {
        next = depth.length;
        depth.push(depth[node]! + 1);
        terminal.push(false);
        goto.set(key, next);
      }
      node = next;
    }
    terminal[node] = true;
  }
  // Failure links breadth-first; `output` is the deepest terminal on the failure
  // chain (itself included), i.e. the longest needle ending here, or -1.
  const fail = new Int32Array(depth.length);
  const output = new Int32Array(depth.length).fill(-1);
  const children: number[][] = depth.map(() => []);
  const unitOf = new Int32Array(depth.length);
  for (const [key, child] of goto) {
    children[Math.floor(key / 65536)]!.push(child);
    unitOf[child] = key % 65536;
  }
  const queue: number[] = [];
  for (const child of children[0]!) {
    fail[child] = 0;
    queue.push(child);
  }
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!;
    output[node] = terminal[node] ? node : output[fail[node]!]!;
    for (const child of children[node]!) {
      const unit = unitOf[child]!;
      let f = fail[node]!;
      let next = goto.get(f * 65536 + unit);
      while (next === undefined && f !== 0) {
        f = fail[f]!;
        next = goto.get(f * 65536 + unit);
      }
      fail[child] = next !== undefined && next !== child ? next : 0;
      queue.push(child);
    }
  }

  return {
    maxLength,
    ranges(length, unitAt) {
      const out: Array<[number, number]> = [];
      if (maxLength === 0) return out;
      let node = 0;
      for (let i = 0; i < length; i++) {
        const unit = fold(unitAt(i));
        let next = goto.get(node * 65536 + unit);
        while (next === undefined && node !== 0) {
          node = fail[node]!;
          next = goto.get(node * 65536 + unit);
        }
        node = next ?? 0;
        const hit = output[node]!;
        if (hit > 0) {
          // Matches arrive by end position, and this end is the furthest yet: every
          // range that reaches this match's start merges into it.
          let start = i + 1 - depth[hit]!;
          while (out.length > 0 && out.at(-1)![1] >= start) start = Math.min(start, out.pop()![0]);
          out.push([start, i + 1]);
        }
      }
      return out;
    },
  };
}
