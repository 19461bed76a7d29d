// Prints one closing line for the whole test run from the Vitest report and the Playwright reports
// (scripts/test.sh runs Playwright in two passes, each with its own report), in the plain form
// "N passed, N failed" that CI reads.
import { readFileSync } from 'node:fs';

const [vitestPath, ...playwrightPaths] = process.argv.slice(2);
if (!vitestPath || playwrightPaths.length === 0) {
  console.error('usage: node scripts/summary.mjs vitest.json playwright.json [playwright.json …]');
  process.exit(2);
}
const vitest = JSON.parse(readFileSync(vitestPath, 'utf8'));
let passed = vitest.numPassedTests;
let failed = vitest.numFailedTests;
let skipped = vitest.numPendingTests + vitest.numTodoTests;
for (const path of playwrightPaths) {
  const { stats } = JSON.parse(readFileSync(path, 'utf8'));
  passed += stats.expected;
  failed += stats.unexpected + (stats.flaky ?? 0);
  skipped += stats.skipped;
}
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
