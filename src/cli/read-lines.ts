/**
 * Lines of a stream with bounded memory: a line longer than `maxChars` is kept
 * only up to the cap and flagged, however long it runs, so one hostile line (or
 * a file with no line breaks) cannot make the CLI hold it all.
 */
export interface ReadLine {
  readonly text: string;
  readonly overLimit: boolean;
}

export async function* readLines(stream: NodeJS.ReadableStream, maxChars: number): AsyncGenerator<ReadLine> {
  stream.setEncoding('utf8');
  let current = '';
  let over = false;
  for await (const chunk of stream as AsyncIterable<string>) {
    let from = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', from)) {
      yield take(chunk.slice(from, nl));
      from = nl + 1;
    }
    append(chunk.slice(from));
  }
  if (current !== '' || over) yield take('');

  function append(part: string): void {
    if (over) return;
    current += part;
    // One more than the cap, so a line of exactly maxChars plus its \r is not flagged.
    if (current.length > maxChars + 1) {
      current = current.slice(0, maxChars);
      over = true;
    }
  }
  function take(rest: string): ReadLine {
    append(rest);
    let text = current.endsWith('\r') ? current.slice(0, -1) : current;
    const overLimit = over || text.length > maxChars;
    if (overLimit) text = text.slice(0, maxChars);
    current = '';
    over = false;
    return { text, overLimit };
  }
}
