/**
 * Source evaluated once inside every fresh isolate, before any tool code.
 *
 * It returns [run, flush] as references held only by the host: tool code can
 * reach neither. Everything it needs from the isolate's built-ins is captured
 * here, before tool code runs, so tool code that patches JSON or String cannot
 * change how results are reported. What comes back is still treated as
 * untrusted by the host (type-checked and size-capped).
 *
 * Nothing from the host crosses in: no callbacks, no references. Output is
 * buffered inside the isolate and copied out as strings at the end.
 */
export const ISOLATE_BOOTSTRAP = String.raw`(function () {
  'use strict';
  const stringify = JSON.stringify;
  const toStr = String;
  const ErrorCtor = Error;
  const indirectEval = eval;
  const MAX_MESSAGE = 4096;
  let out = '';
  let err = '';
  let used = 0;
  let limit = 0;
  let truncated = false;

  function format(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'bigint') return toStr(v) + 'n';
    if (typeof v === 'function') return '[Function]';
    if (typeof v === 'symbol' || v === undefined) return toStr(v);
    if (v instanceof ErrorCtor) return describe(v).name + ': ' + describe(v).message;
    try {
      const s = stringify(v);
      return s === undefined ? toStr(v) : s;
    } catch (_) {
      try { return toStr(v); } catch (_) { return '[unprintable]'; }
    }
  }

  function write(toErr, args) {
    if (truncated) return;
    let line = '';
    for (let i = 0; i < args.length; i++) line += (i === 0 ? '' : ' ') + format(args[i]);
    line += '\n';
    const room = limit - used;
    if (line.length > room) { line = line.slice(0, room); truncated = true; }
    used += line.length;
    if (toErr) err += line; else out += line;
  }

  function describe(e) {
    let name = 'Error';
    let message;
    try {
      if (e instanceof ErrorCtor) {
        name = toStr(e.name);
        message = toStr(e.message);
      } else {
        name = 'Uncaught';
        message = typeof e === 'string' ? e : format(e);
      }
    } catch (_) {
      message = 'an exception that could not be printed';
    }
    if (message.length > MAX_MESSAGE) message = message.slice(0, MAX_MESSAGE) + '…';
    if (name.length > 128) name = name.slice(0, 128);
    return { name: name, message: message };
  }

  const console = {
    log: (...a) => write(false, a),
    info: (...a) => write(false, a),
    debug: (...a) => write(false, a),
    warn: (...a) => write(true, a),
    error: (...a) => write(true, a),
    trace: (...a) => write(true, a),
  };
  globalThis.console = console;

  async function run(source, outputLimit) {
    limit = outputLimit;
    let value;
    try {
      value = indirectEval(source);
      if (value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function') {
        value = await value;
      }
    } catch (e) {
      const d = describe(e);
      return ['error', d.name, d.message, out, err, truncated];
    }
    let json;
    try {
      json = value === undefined ? undefined : stringify(value);
    } catch (e) {
      const d = describe(e);
      return ['error', 'ResultError', 'the result value is not JSON-serialisable: ' + d.message, out, err, truncated];
    }
    return ['ok', json, undefined, out, err, truncated];
  }

  function flush() {
    return [out, err, truncated];
  }

  return [run, flush];
})()`;
