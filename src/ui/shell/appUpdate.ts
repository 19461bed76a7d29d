// The offer of a new version of the studio. A new build's service worker installs beside the open
// tabs and waits (src/offline/sw.ts); this tab then offers it, and only a click on Reload lets it
// take over and reloads the page, so no running job is ever cut short by an update. Kept apart
// from the registration (registerServiceWorker.ts) so that it can be tested without a browser.

import { create } from 'zustand';

/**
 * 'none': nothing to offer. 'waiting': a new version is installed and waits for this tab's Reload.
 * 'active': another tab accepted it, so the new worker now serves this tab, which still runs the
 * old code: a reload brings the two together.
 */
export type UpdateStatus = 'none' | 'waiting' | 'active';

interface AppUpdateState {
  status: UpdateStatus;
  dismissed: boolean;
  /** Set once Reload was clicked: the new worker is being activated and the page reloads. */
  reloading: boolean;
  reload(): void;
  dismiss(): void;
}

/** A store of the offer; the studio has one (useAppUpdate), each test its own. */
export const createAppUpdateStore = () =>
  create<AppUpdateState>()((set) => ({
    status: 'none',
    dismissed: false,
    reloading: false,
    // Replaced by watchUpdates; before it runs there is no worker, so nothing to activate.
    reload: () => {},
    dismiss: () => set({ dismissed: true }),
  }));

export const useAppUpdate = createAppUpdateStore();

/** The parts of workbox-window's Workbox that the offer uses. */
export interface UpdateSource {
  addEventListener(type: 'waiting' | 'controlling', listener: () => void): void;
  /** Tells the waiting worker to activate (a no-op when none waits). */
  messageSkipWaiting(): void;
}

export interface UpdatePage {
  /** Whether a service worker served this page when it loaded (false on the first visit). */
  controlled: boolean;
  reload(): void;
}

/** Listens to `source` for new versions; call before registering, so no event is missed. */
export function watchUpdates(source: UpdateSource, page: UpdatePage, store = useAppUpdate): void {
  let controlled = page.controlled;
  const offer = (status: UpdateStatus) => {
    // A dismissed offer comes back when there is something new to say.
    if (store.getState().status !== status) store.setState({ status, dismissed: false });
  };
  source.addEventListener('waiting', () => offer('waiting'));
  source.addEventListener('controlling', () => {
    // The first visit's worker takes control of its page: not an update.
    if (store.getState().reloading) page.reload();
    else if (controlled) offer('active');
    controlled = true;
  });
  store.setState({
    reload: () => {
      const { status, reloading } = store.getState();
      if (status === 'none' || reloading) return;
      store.setState({ reloading: true });
      // A waiting worker reloads the page once it controls it ('controlling' above); one that
      // already does needs only the reload.
      if (status === 'waiting') source.messageSkipWaiting();
      else page.reload();
    },
  });
}
