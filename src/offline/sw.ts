// The studio's service worker, built on Workbox (offlinePlugin.ts writes the precache list into
// self.__WB_MANIFEST): after the first visit the site works offline. On install it stores every
// built file, the built-in model and the texts (precacheList.ts), all or nothing; every request
// for one of them is answered from that store, and every navigation gets the stored page. A new
// build installs beside the open tabs and waits: the studio offers it (src/ui/shell/appUpdate.ts)
// and sends SKIP_WAITING when the user accepts, so no tab is reloaded without a click. Files the
// list leaves out and other origins are not touched. Ours rather than Workbox's generated worker
// because the precache must answer range requests (a model opened from this site's URL is read
// in parts) with the part asked for, which takes a plugin the generated one cannot be given.

import { clientsClaim, setCacheNameDetails } from 'workbox-core';
import {
  addPlugins,
  cleanupOutdatedCaches,
  createHandlerBoundToURL,
  type PrecacheEntry,
  precacheAndRoute,
} from 'workbox-precaching';
import { RangeRequestsPlugin } from 'workbox-range-requests';
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { FILE_NAVIGATION, ROOT_DOCUMENT } from './precacheList';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (PrecacheEntry | string)[] };

/** Caches of the hand-written worker this one replaced: compression-studio-<16 hex digits>. */
const OLD_CACHE = /^compression-studio-[0-9a-f]{16}$/;

// Before anything opens a cache: the store is then compression-studio-precache-v2-<scope>.
setCacheNameDetails({ prefix: 'compression-studio' });
// A bytes=a-b request for a stored file gets a 206 with those bytes, as the host would answer.
addPlugins([new RangeRequestsPlugin()]);
precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
registerRoute(new NavigationRoute(createHandlerBoundToURL(ROOT_DOCUMENT), { denylist: [FILE_NAVIGATION] }));

// The first install controls the page that registered it at once; an update only activates when
// a tab asks for it, and then takes over every open tab (each shows the offer until reloaded).
clientsClaim();
self.addEventListener('message', (event) => {
  if ((event.data as { type?: unknown } | null)?.type === 'SKIP_WAITING') void self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (OLD_CACHE.test(name)) await caches.delete(name);
    })(),
  );
});
