// Registers the service worker that makes the built studio work offline after the first visit
// (src/offline/sw.ts, built by Workbox's Vite plugin) through workbox-window, whose events drive
// the offer of a new version (appUpdate.ts). Not in development, where Vite serves modules that
// change.

import { Workbox } from 'workbox-window';
import { SERVICE_WORKER_FILE } from '../../offline/precacheList';
import { watchUpdates } from './appUpdate';

export function registerServiceWorker(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  // Relative to the page, so a studio hosted in a subfolder registers its own worker.
  const workbox = new Workbox(`./${SERVICE_WORKER_FILE}`);
  watchUpdates(workbox, {
    controlled: navigator.serviceWorker.controller !== null,
    reload: () => window.location.reload(),
  });
  workbox.register().catch((error: unknown) => {
    // The studio works without it, only not offline; a warning, not an error, for that reason.
    console.warn(`Offline use is not available: ${error instanceof Error ? error.message : String(error)}`);
  });
}
