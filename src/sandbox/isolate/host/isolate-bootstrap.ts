/**
 * Source evaluated once inside every fresh isolate, before any tool code.
 *
 * It returns [finish, flush] as references held only by the isolate host: tool
 * code can reach neither. The built-ins it relies on are captured before tool
 * code runs (and called through bound copies), so tool code that patches
 * `String.prototype.slice` or `JSON` cannot make it hand back more than its caps.
 * That is a courtesy, not the boundary: the host checks the type and size of
 * every field it copies out.
 *
 * `WebAssembly` is removed: its memories live outside the V8 heap, where the
 * isolate's memory limit does not count them (a 16 MB isolate could hold
 * gigabytes). `fetch` exists only when the sandbox has egress (isolate-fetch.ts).
 */
export const ISOLATE_BOOTSTRAP = String.raw`(function () {
  'use strict';
  const global = globalThis;
  const call = Function.prototype.call;
  const uncurry = (fn) => call.bind(fn);
  const slice = uncurry(String.prototype.slice);
  const stringify = JSON.stringify;
  const toStr = String;
  const ErrorCtor = Error;
  const isArray = Array.isArray;
  const MAX_NAME = 128;
  const MAX_MESSAGE = 4096;
  const MAX_STACK = 4096;
  let out = '';
  let err = '';
  let used = 0;
  let limit = 0;
  let truncated = false;

  delete global.WebAssembly;

  function cap(s, n) {
    return typeof s === 'string' && s.length > n ? slice(s, 0, n) + '…' : s;
  }

  function format(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'bigint') return toStr(v) + 'n';
    if (typeof v === 'function') return '[Function]';
    if (typeof v === 'symbol' || v === undefined) return toStr(v);
    try {
      if (v instanceof ErrorCtor) { const d = describe(v); return d.name + ': ' + d.message; }
      const s = stringify(v);
      return s === undefined ? toStr(v) : s;
    } catch (_) {
      try { return toStr(v); } catch (_) { return '[unprintable]'; }
    }
  }

  function write(toErr, args) {
    if (truncated) return;
    let line = '';
    for (let i = 0; i < args.length; i++) {
      line += (i === 0 ? '' : ' ') + format(args[i]);
      if (line.length > limit) break;
    }
    line += '\n';
    const room = limit - used;
    if (line.length > room) { line = slice(line, 0, room); truncated = true; }
    used += line.length;
    if (toErr) err += line; else out += line;
  }

  function describe(e) {
    let name = 'Error';
    let message = '';
    let stack = '';
    try {
      if (e instanceof ErrorCtor) {
        name = toStr(e.name);
        message = toStr(e.message);
        stack = typeof e.stack === 'string' ? e.stack : '';
      } else {
        name = 'Uncaught';
        message = typeof e === 'string' ? e : format(e);
      }
    } catch (_) {
      message = 'an exception that could not be printed';
    }
    if (typeof name !== 'string') name = 'Error';
    if (typeof message !== 'string') message = '';
    return { name: cap(name, MAX_NAME), message: cap(message, MAX_MESSAGE), stack: cap(stack, MAX_STACK) };
  }

  const console = {
    log: (...a) => write(false, a),
    info: (...a) => write(false, a),
    debug: (...a) => write(false, a),
    warn: (...a) => write(true, a),
    error: (...a) => write(true, a),
    trace: (...a) => write(true, a),
  };
  global.console = console;

  function output() {
    return { stdout: out, stderr: err, truncated: truncated };
  }

  // Called by the host with the script's completion value (or the error it threw).
  async function finish(threw, value, outputLimit, resultLimit) {
    limit = outputLimit;
    if (threw) return { status: 'error', error: describe(value), ...output() };
    try {
      if (value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function') {
        value = await value;
      }
    } catch (e) {
      return { status: 'error', error: describe(e), ...output() };
    }
    let json;
    try {
      json = value === undefined ? undefined : stringify(value);
    } catch (e) {
      const d = describe(e);
      return { status: 'error', error: { name: 'ResultError', message: 'the result value is not JSON-serialisable: ' + d.message }, ...output() };
    }
    if (typeof json === 'string' && json.length > resultLimit) {
      return { status: 'ok', omitted: json.length, ...output() };
    }
    return { status: 'ok', value: json, ...output() };
  }

  // Sets the output limit before synchronous code runs (console may be called at once).
  function begin(outputLimit) {
    limit = outputLimit;
  }

  function flush() {
    return output();
  }

  return [finish, flush, begin];
})()`;
