#!/usr/bin/env node
// `npx compression-studio <command>` from a clone. The CLI is TypeScript that imports WGSL with
// Vite's `?raw`, so it runs from a Vite bundle (dist-node/cli.js, vite.node.config.ts): this
// installs the npm packages when package-lock.json is newer than the install (as scripts/setup.sh
// does), rebuilds the bundle when a source is newer than it, points Dawn at Chromium's SwiftShader
// when no Vulkan driver is configured, then runs the CLI in this process. Everything it prints
// goes to stderr, so stdout stays one JSON object under --json.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist-node', 'cli.js');

const mtime = (path) => (existsSync(path) ? statSync(path).mtimeMs : 0);

/** The newest modification time under a folder (test files and results do not go into the bundle). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let latest = info.mtimeMs;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.name === 'results' || entry.name.endsWith('.test.ts')) continue;
    latest = Math.max(latest, newest(join(path, entry.name)));
  }
  return latest;
}

const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || mtime(join(root, 'package-lock.json')) > mtime(installed)) {
  process.stderr.write('Installing npm packages (npm ci)\n');
  const npm = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: ['ignore', process.stderr, process.stderr],
  });
  if (npm.status !== 0) process.exit(npm.status ?? 1);
}

const sources = ['src', 'shaders', 'bench', 'vite.node.config.ts', 'package.json', 'package-lock.json'];
if (Math.max(...sources.map((s) => newest(join(root, s)))) > mtime(bundle)) {
  process.stderr.write('Building the CLI (dist-node/)\n');
  const { build } = await import('vite');
  await build({ root, configFile: join(root, 'vite.node.config.ts'), logLevel: 'warn' });
}

/** Whether a Vulkan driver other than a CPU one (lavapipe, which Dawn refuses; SwiftShader) is installed. */
function gpuDriverInstalled() {
  const folders = ['/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
  return folders.some(
    (folder) =>
      existsSync(folder) && readdirSync(folder).some((name) => !/lvp|lavapipe|swiftshader/i.test(name)),
  );
}

const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (
  !process.env.VK_ICD_FILENAMES &&
  !process.env.VK_DRIVER_FILES &&
  existsSync(swiftshader) &&
  !gpuDriverInstalled()
) {
  // Set before Dawn loads the Vulkan loader, which reads it once.
  process.env.VK_ICD_FILENAMES = swiftshader;
}
process.env.XDG_RUNTIME_DIR ??= '/tmp';

await import(pathToFileURL(bundle).href);
