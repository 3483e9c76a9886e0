/**
 * The isolate side of `fetch`. The host grants one callback (a reference to an
 * async host function bound to this sandbox's identity); the script below
 * captures it in a closure and removes every trace from the global object, so
 * tool code can only reach it through `fetch`. Whatever tool code passes is
 * copied out as plain data; the runner decides, pins and dials.
 * The request's shape and size are checked again on the host side (ipc-protocol.ts). The identity of
 * the request is the callback it came through, never anything in the request.
 */

/** Evaluated with `$0` = the host callback reference. */
export const INSTALL_FETCH = String.raw`
  'use strict';
  const hostFetch = $0;
  const toStr = String;
  const isArray = Array.isArray;
  const U8 = Uint8Array;
  const AB = ArrayBuffer;
  const isView = ArrayBuffer.isView;
  const parseJson = JSON.parse;
  const TypeErr = TypeError;
  const freeze = Object.freeze;
  const keys = Object.keys;

  function headerPairs(h) {
    const out = [];
    if (h === undefined || h === null) return out;
    if (h instanceof CordonHeaders) { for (const p of h._pairs) out.push([p[0], p[1]]); return out; }
    if (isArray(h)) { for (const p of h) out.push([toStr(p[0]), toStr(p[1])]); return out; }
    for (const k of keys(h)) out.push([toStr(k), toStr(h[k])]);
    return out;
  }

  class CordonHeaders {
    constructor(init) { this._pairs = headerPairs(init).map((p) => [p[0].toLowerCase(), p[1]]); }
    get(name) { const n = toStr(name).toLowerCase(); const v = this._pairs.filter((p) => p[0] === n).map((p) => p[1]); return v.length === 0 ? null : v.join(', '); }
    has(name) { const n = toStr(name).toLowerCase(); return this._pairs.some((p) => p[0] === n); }
    set(name, value) { const n = toStr(name).toLowerCase(); this._pairs = this._pairs.filter((p) => p[0] !== n); this._pairs.push([n, toStr(value)]); }
    append(name, value) { this._pairs.push([toStr(name).toLowerCase(), toStr(value)]); }
    delete(name) { const n = toStr(name).toLowerCase(); this._pairs = this._pairs.filter((p) => p[0] !== n); }
    forEach(fn) { for (const p of this._pairs) fn(p[1], p[0], this); }
    entries() { return this._pairs.map((p) => [p[0], p[1]])[Symbol.iterator](); }
    keys() { return this._pairs.map((p) => p[0])[Symbol.iterator](); }
    values() { return this._pairs.map((p) => p[1])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
  }

  class CordonResponse {
    constructor(r) {
      this.status = r.status;
      this.statusText = r.statusText;
      this.ok = r.status >= 200 && r.status < 300;
      this.headers = new CordonHeaders(r.headers);
      this.url = r.url;
      this.redirected = r.redirected;
      this._body = r.body;
      this._text = r.text;
      this.bodyUsed = false;
    }
    _use() { if (this.bodyUsed) throw new TypeErr('body already used'); this.bodyUsed = true; }
    async text() { this._use(); return this._text; }
    async json() { this._use(); return parseJson(this._text); }
    async arrayBuffer() { this._use(); const b = this._body; return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); }
    async bytes() { this._use(); return new U8(this._body); }
  }

  function bodyOf(b) {
    if (b === undefined || b === null) return null;
    if (typeof b === 'string') return b;
    if (b instanceof AB) return new U8(b.slice(0));
    if (isView(b)) return new U8(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    if (typeof b === 'object' && !isArray(b)) throw new TypeErr('fetch body must be a string, ArrayBuffer or typed array; use JSON.stringify for objects');
    return toStr(b);
  }

  async function fetch(input, init) {
    const opts = init === undefined || init === null ? {} : init;
    const url = typeof input === 'string' ? input : input !== null && typeof input === 'object' && 'url' in input ? toStr(input.url) : toStr(input);
    const method = opts.method === undefined ? 'GET' : toStr(opts.method).toUpperCase();
    const redirect = opts.redirect === 'manual' || opts.redirect === 'error' ? opts.redirect : 'follow';
    const request = { url: url, method: method, headers: headerPairs(opts.headers), body: bodyOf(opts.body), redirect: redirect };
    const r = await hostFetch.apply(undefined, [request], { arguments: { copy: true }, result: { copy: true, promise: true } });
    return new CordonResponse(r);
  }

  globalThis.fetch = fetch;
  globalThis.Headers = CordonHeaders;
  freeze(CordonHeaders.prototype);
  freeze(CordonResponse.prototype);
`;
