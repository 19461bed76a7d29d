import { describe, expect, it } from 'vitest';
import { createAppUpdateStore, type UpdateSource, watchUpdates } from './appUpdate';

/** A stand-in for workbox-window's Workbox: events fired by hand, skip-waiting messages counted. */
function fakeWorkbox() {
  const listeners: Record<'waiting' | 'controlling', (() => void)[]> = { waiting: [], controlling: [] };
  const source: UpdateSource & { skipWaitingSent: number } = {
    skipWaitingSent: 0,
    addEventListener(type, listener) {
      listeners[type].push(listener);
    },
    messageSkipWaiting() {
      source.skipWaitingSent++;
    },
  };
  const fire = (type: 'waiting' | 'controlling') => {
    for (const listener of listeners[type]) listener();
  };
  return { source, fire };
}

function setUp(controlled: boolean) {
  const store = createAppUpdateStore();
  const { source, fire } = fakeWorkbox();
  const page = { controlled, reloads: 0, reload: () => page.reloads++ };
  watchUpdates(source, page, store);
  return { store, source, fire, page };
}

describe('the offer of a new version', () => {
  it('offers a waiting worker and reloads only after Reload, once the worker controls the page', () => {
    const { store, source, fire, page } = setUp(true);
    expect(store.getState().status).toBe('none');
    fire('waiting');
    expect(store.getState().status).toBe('waiting');
    expect(source.skipWaitingSent).toBe(0);
    expect(page.reloads).toBe(0);

    store.getState().reload();
    expect(source.skipWaitingSent).toBe(1);
    expect(store.getState().reloading).toBe(true);
    // Not yet: the old worker still serves the page until the new one has taken over.
    expect(page.reloads).toBe(0);
    // A second click while it activates sends nothing more.
    store.getState().reload();
    expect(source.skipWaitingSent).toBe(1);
    fire('controlling');
    expect(page.reloads).toBe(1);
  });

  it('does not take the first visit’s worker taking control for an update', () => {
    const { store, fire, page } = setUp(false);
    fire('controlling');
    expect(store.getState().status).toBe('none');
    expect(page.reloads).toBe(0);
    // A later build found while this tab is open is offered as usual.
    fire('waiting');
    expect(store.getState().status).toBe('waiting');
  });

  it('never reloads a tab whose user did not click, when another tab accepts the update', () => {
    const { store, source, fire, page } = setUp(true);
    fire('waiting');
    store.getState().dismiss();
    expect(store.getState().dismissed).toBe(true);
    // Another tab clicked Reload: the new worker now controls this tab too.
    fire('controlling');
    expect(page.reloads).toBe(0);
    // The offer comes back, since this tab now runs old code under the new worker.
    expect(store.getState()).toMatchObject({ status: 'active', dismissed: false });
    store.getState().reload();
    // No worker waits any more, so the click reloads at once.
    expect(source.skipWaitingSent).toBe(0);
    expect(page.reloads).toBe(1);
  });

  it('does nothing on Reload when there is nothing to offer', () => {
    const { store, source, page } = setUp(true);
    store.getState().reload();
    expect(source.skipWaitingSent).toBe(0);
    expect(page.reloads).toBe(0);
    expect(store.getState().reloading).toBe(false);
  });
});
