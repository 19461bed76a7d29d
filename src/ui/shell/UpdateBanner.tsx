// The offer of a new version (appUpdate.ts): a bar along the bottom of the window that covers
// nothing the user is working on, stays until Reload or ×, and never reloads by itself.

import { useAppUpdate } from './appUpdate';

export function UpdateBanner() {
  const { status, dismissed, reloading, reload, dismiss } = useAppUpdate();
  if (status === 'none' || dismissed) return null;
  return (
    <section className="update-banner" role="status" aria-label="Update" data-testid="update-banner">
      <span>A new version of the studio is available —</span>
      <button
        type="button"
        className="button button-primary"
        onClick={reload}
        disabled={reloading}
        data-testid="update-reload"
      >
        {reloading ? 'Reloading…' : 'Reload'}
      </button>
      <button
        type="button"
        className="button update-dismiss"
        onClick={dismiss}
        aria-label="Dismiss: keep this version until the next reload"
        title="Keep this version until the next reload"
        data-testid="update-dismiss"
      >
        ×
      </button>
    </section>
  );
}
