// Registers the service worker that makes the built studio work offline after the first visit
// (src/offline/serviceWorker.ts). Not in development, where Vite serves modules that change.

import { SERVICE_WORKER_FILE } from '../../offline/precacheList';

export function registerServiceWorker(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  // Relative to the page, so a studio hosted in a subfolder registers its own worker.
  navigator.serviceWorker.register(`./${SERVICE_WORKER_FILE}`).catch((error: unknown) => {
    // The studio works without it, only not offline; a warning, not an error, for that reason.
    console.warn(`Offline use is not available: ${error instanceof Error ? error.message : String(error)}`);
  });
}
