// What the service worker keeps for offline use besides the built assets: the files under public/
// that the studio itself fetches (the built-in model, the evaluation, calibration and training
// texts) and the shipped demos. Listed, not globbed: public/ also holds files the studio never
// asks for (stories260K.bin, GPT-2's tokenizer for the tests and the CLI, the SOURCE.md notes),
// and caching them would cost every visitor megabytes for nothing. precacheList.test.ts checks
// this list against the paths the engine fetches, so the two cannot drift apart. The build hands
// the list to Workbox (offlinePlugin.ts), which adds a content hash to each entry.

/** The service worker's file at the site's root: its scope is the whole site. */
export const SERVICE_WORKER_FILE = 'sw.js';

/** The page itself: Workbox serves it for the site's root and for every other navigation. */
export const ROOT_DOCUMENT = 'index.html';

/**
 * Navigations the worker leaves to the network: to a file, a path whose last part has a dot (as
 * Workbox matches them, path and query together). Every other navigation gets the stored page.
 */
export const FILE_NAVIGATION = /^[^?]*\/[^/?]*\.[^/?]*(\?.*)?$/;

export const PRECACHED_PUBLIC_FILES = [
  'favicon.svg',
  'models/stories260K/config.json',
  'models/stories260K/model.safetensors',
  'models/stories260K/tok512.bin',
  'data/wikitext-2/wiki.test.raw',
  'data/tinystories/valid-sample.txt',
  'data/c4-sample/c4-train.00000-of-01024.first1000.jsonl',
  'data/tinyshakespeare/input.txt',
] as const;

/** Shipped paper demos: every JSON file in public/demos/. */
export const isPrecachedDemo = (path: string) => /^demos\/[\w-]+\.json$/.test(path);

/**
 * Everything the service worker stores: the page (index.html, which Workbox serves for the site's
 * root), the bundle's files except source maps and the worker's own file, and the public files
 * above.
 */
export function precacheList(bundleFiles: readonly string[], demoFiles: readonly string[]): string[] {
  const assets = bundleFiles.filter(
    (f) => !f.endsWith('.map') && f !== ROOT_DOCUMENT && f !== SERVICE_WORKER_FILE,
  );
  return [
    ROOT_DOCUMENT,
    ...assets.sort(),
    ...PRECACHED_PUBLIC_FILES,
    ...demoFiles.filter(isPrecachedDemo).sort(),
  ];
}

/**
 * The precache list of a built site, from the files of its output folder and of public/ (which
 * the build copied into it): what is in the output but not in public/ is the bundle. Throws when
 * a listed file is not in the output, so that a site is never taken for offline-ready with a
 * file missing (Workbox itself leaves out, with only a warning, files over its size limit).
 */
export function precacheListOfSite(outputFiles: readonly string[], publicFiles: readonly string[]): string[] {
  const fromPublic = new Set(publicFiles);
  const list = precacheList(
    outputFiles.filter((f) => !fromPublic.has(f)),
    publicFiles.filter((f) => f.startsWith('demos/')),
  );
  const output = new Set(outputFiles);
  const missing = list.filter((f) => !output.has(f));
  if (missing.length > 0) {
    throw new Error(
      `precache: the built site lacks ${missing.join(', ')}; it cannot work offline without them`,
    );
  }
  return list;
}
