// The studio's service worker: after the first visit the site works offline. On install it stores
// every built file, the built-in model and the texts (precacheList.ts; the build writes the list
// and a version hash of their contents into PRECACHE at the top of sw.js), and drops older
// versions once active. Pages are fetched from the network first, so an online visit always gets
// the newest studio, and from the cache when that fails; every other file of the site comes from
// the cache first. Other origins and range requests (a model read in parts from a URL) are never
// touched. Hand-written rather than generated: it is this small.

declare const PRECACHE: { version: string; files: string[] };

const worker = self as unknown as ServiceWorkerGlobalScope;
const PREFIX = 'compression-studio-';
const CACHE = `${PREFIX}${PRECACHE.version}`;
/** The site's root, stored under the URL a static host serves index.html at. */
const ROOT = new URL('./', worker.location.href).href;

worker.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // 'reload': straight from the server, not a stale copy from the HTTP cache. addAll stores
      // all or nothing, so a half-cached site is never taken for an offline-ready one.
      await cache.addAll(PRECACHE.files.map((file) => new Request(new URL(file, ROOT), { cache: 'reload' })));
      // A first install has no page to disturb; an update waits for the open tabs (see activate).
      if (!worker.registration.active) await worker.skipWaiting();
    })(),
  );
});

worker.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      }
      // The page that registered this worker is served by it from now on, without a reload.
      await worker.clients.claim();
    })(),
  );
});

worker.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== worker.location.origin || request.headers.has('range'))
    return;
  if (request.mode === 'navigate') {
    event.respondWith(
      fetch(request).catch(async () => (await caches.match(ROOT, { cacheName: CACHE })) ?? Response.error()),
    );
    return;
  }
  // ignoreVary: hosts send `Vary: Origin`, and a module script's request carries an Origin header
  // that the install's requests did not, so an exact match would miss every script offline.
  event.respondWith(
    (async () => (await caches.match(request, { cacheName: CACHE, ignoreVary: true })) ?? fetch(request))(),
  );
});
