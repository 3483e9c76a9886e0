// The approvals page. Everything an agent could influence (tool input, reason, names) is put on
// the page with textContent only — never innerHTML — so hostile input shows as text. Signing
// happens here, with a non-extractable WebCrypto key kept in this origin's IndexedDB: the server
// never holds an operator's private key.
import { base64url, canonicalHash, decisionSigningInput } from './canonical-json.js';

const API = '/operator/v1';
const CSRF_HEADER = 'x-cordon-csrf';
/** Seconds a signed statement lives (the service accepts at most 300). */
const STATEMENT_LIFETIME_SEC = 120;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
let session = null; // {approver, csrfToken}
let signingKey = null; // CryptoKey

function say(message) {
  $('status').textContent = message;
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session !== null) headers[CSRF_HEADER] = session.csrfToken;
  const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  const json = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error(json?.error?.message ?? `HTTP ${res.status}`);
    err.status = res.status;
    err.code = json?.error?.code;
    throw err;
  }
  return json;
}

// ---- the key, in IndexedDB -------------------------------------------------------------------

function keyStore(mode) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('cordon-operator', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('keys');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => resolve(open.result.transaction('keys', mode).objectStore('keys'));
  });
}

async function idb(mode, op) {
  const store = await keyStore(mode);
  return new Promise((resolve, reject) => {
    const req = op(store);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function pemToDer(pem) {
  const m = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(pem);
  if (m === null) throw new Error('not a PKCS8 PEM private key (-----BEGIN PRIVATE KEY-----)');
  const bin = atob(m[1].replace(/\s+/g, ''));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

async function loadKeyFile(file) {
  const der = pemToDer(await file.text());
  // Non-extractable: once imported, not even this page can read the key back out.
  const key = await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
  der.fill(0);
  await idb('readwrite', (s) => s.put(key, session.approver));
  signingKey = key;
}

function showKeyState() {
  $('key').hidden = false;
  $('key-state').textContent = signingKey === null ? `No signing key loaded for ${session.approver}: load it to approve or deny.` : `A signing key for ${session.approver} is loaded in this browser.`;
  $('key-forget').hidden = signingKey === null;
}

// ---- approvals -------------------------------------------------------------------------------

function userText(user) {
  return user === null ? '(none: the agent acts for itself)' : `${user.subject} (issuer ${user.issuer})`;
}

function render(view) {
  const tpl = /** @type {HTMLTemplateElement} */ ($('approval-template'));
  const li = /** @type {HTMLElement} */ (tpl.content.firstElementChild.cloneNode(true));
  const set = (cls, text) => (li.querySelector('.' + cls).textContent = text);
  const inv = view.invocation;
  li.dataset.id = view.id;
  set('tool', inv.tool);
  set('id', view.id);
  set('agent', inv.agent);
  set('user', userText(inv.user));
  set('reason', view.reason);
  set('policy', view.policyId ?? '(none)');
  set('expires', view.expiresAt);
  set('hash', view.invocationHash);
  set('input', JSON.stringify(inv.input, null, 2));
  set('invocation', JSON.stringify(inv, null, 2));
  li.querySelector('.approve').addEventListener('click', () => void decide(li, view, 'approve'));
  li.querySelector('.deny').addEventListener('click', () => void decide(li, view, 'deny'));
  return li;
}

async function refresh() {
  const { approvals } = await api('GET', '/approvals?status=pending');
  $('list').replaceChildren(...approvals.map(render));
  $('empty').hidden = approvals.length > 0;
  $('approvals').hidden = false;
}

async function decide(li, view, decision) {
  const outcome = li.querySelector('.outcome');
  if (signingKey === null) {
    outcome.textContent = 'Load your signing key first.';
    return;
  }
  for (const b of li.querySelectorAll('button')) b.disabled = true;
  try {
    // The hash is recomputed here from the invocation this page shows: the approver signs what
    // they saw, and a server that showed one call and hashed another is caught before signing.
    const invocationHash = await canonicalHash(view.invocation);
    if (invocationHash !== view.invocationHash) throw new Error('the invocation hash the server reports does not match the invocation shown; not signed');
    const iat = Math.floor(Date.now() / 1000);
    const statement = {
      approvalId: view.id,
      invocationHash,
      decision,
      approver: session.approver,
      iat,
      exp: iat + STATEMENT_LIFETIME_SEC,
      nonce: base64url(crypto.getRandomValues(new Uint8Array(24))),
    };
    const signature = base64url(await crypto.subtle.sign({ name: 'Ed25519' }, signingKey, decisionSigningInput(statement)));
    const result = await api('POST', `/approvals/${encodeURIComponent(view.id)}/decision`, { statement, signature });
    outcome.textContent = `${decision === 'approve' ? 'Approved' : 'Denied'}: now ${result.status}.`;
    li.dataset.decided = result.status;
  } catch (err) {
    outcome.textContent = `Not recorded: ${err.message}`;
    for (const b of li.querySelectorAll('button')) b.disabled = false;
  }
}

// ---- login -----------------------------------------------------------------------------------

async function enter(s) {
  session = s;
  $('login').hidden = true;
  $('whoami').hidden = false;
  $('whoami').textContent = `Logged in as ${s.approver}`;
  $('logout').hidden = false;
  signingKey = (await idb('readonly', (st) => st.get(s.approver)).catch(() => undefined)) ?? null;
  showKeyState();
  await refresh();
  say('');
}

function showLogin(message) {
  session = null;
  $('login').hidden = false;
  $('approvals').hidden = true;
  $('key').hidden = true;
  $('whoami').hidden = true;
  $('logout').hidden = true;
  say(message);
}

async function start() {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = /** @type {HTMLInputElement} */ ($('login-name')).value;
    const password = /** @type {HTMLInputElement} */ ($('login-password'));
    api('POST', '/login', { name, password: password.value })
      .then(enter)
      .catch((err) => say(`Login failed: ${err.message}`))
      .finally(() => (password.value = ''));
  });
  $('key-file').addEventListener('change', (e) => {
    const input = /** @type {HTMLInputElement} */ (e.target);
    const file = input.files?.[0];
    if (file === undefined) return;
    loadKeyFile(file)
      .then(() => say('Signing key loaded.'))
      .catch((err) => say(`Key not loaded: ${err.message}`))
      .finally(() => {
        input.value = '';
        showKeyState();
      });
  });
  $('key-forget').addEventListener('click', () => {
    idb('readwrite', (s) => s.delete(session.approver)).then(() => {
      signingKey = null;
      showKeyState();
    });
  });
  $('refresh').addEventListener('click', () => void refresh().catch((err) => say(err.message)));
  $('logout').addEventListener('click', () => {
    api('POST', '/logout').finally(() => showLogin('Logged out.'));
  });

  // A one-time login link carries its token in the fragment, which no request ever sends.
  const link = /^#login=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (link !== null) {
    history.replaceState(null, '', location.pathname);
    try {
      return await enter(await api('POST', '/login-link/redeem', { token: link[1] }));
    } catch (err) {
      return showLogin(`The login link did not work: ${err.message}`);
    }
  }
  try {
    await enter(await api('GET', '/session'));
  } catch (err) {
    if (err.status === 401) showLogin('');
    else say(err.message);
  }
}

void start();
