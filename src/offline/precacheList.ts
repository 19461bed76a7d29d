// What the service worker keeps for offline use besides the built assets: the files under public/
// that the studio itself fetches (the built-in model, the evaluation, calibration and training
// texts) and the shipped demos. Listed, not globbed: public/ also holds files the studio never
// asks for (stories260K.bin, GPT-2's tokenizer for the tests and the CLI, the SOURCE.md notes),
// and caching them would cost every visitor megabytes for nothing. precacheList.test.ts checks
// this list against the paths the engine fetches, so the two cannot drift apart.

/** The service worker's file at the site's root: its scope is the whole site. */
export const SERVICE_WORKER_FILE = 'sw.js';

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
 * Everything the service worker stores: the site's root (served as index.html, the navigation
 * fallback), the bundle's files except source maps and the worker's own file, and the public
 * files above.
 */
export function precacheList(bundleFiles: readonly string[], demoFiles: readonly string[]): string[] {
  const assets = bundleFiles.filter(
    (f) => !f.endsWith('.map') && f !== 'index.html' && f !== SERVICE_WORKER_FILE,
  );
  return ['./', ...assets.sort(), ...PRECACHED_PUBLIC_FILES, ...demoFiles.filter(isPrecachedDemo).sort()];
}
