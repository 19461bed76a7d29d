import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { joinWikitext, splitStories, windows } from './datasets';

const read = (path: string) => readFileSync(new URL(`../../public/data/${path}`, import.meta.url), 'utf8');

describe('evaluation texts', () => {
  it("joins WikiText-2 raw test into the papers' exact string", () => {
    const joined = joinWikitext(read('wikitext-2/wiki.test.raw'));
    // Length and hash of "\n\n".join(rows) recorded in the data's SOURCE.md.
    expect(joined.length).toBe(1_294_336);
    expect(createHash('sha256').update(joined, 'utf8').digest('hex')).toBe(
      '696cca6b65a171b0a358a4be6732cdfdf2dd6164a32e20fd70e3c13fc4dfae83',
    );
    expect(joined.startsWith('\n\n = Robert Boulter = \n\n\n\n\n Robert Boulter is an English film')).toBe(
      true,
    );
  });

  it('splits the TinyStories sample into its 362 stories', () => {
    const stories = splitStories(read('tinystories/valid-sample.txt'));
    expect(stories).toHaveLength(362);
    expect(
      stories[0]?.startsWith('Once upon a time, in a big forest, there lived a rhinoceros named Roxy.'),
    ).toBe(true);
    expect(stories.at(-1)?.endsWith('because of the new friend he welcomed into his life.')).toBe(true);
  });

  it('cuts non-overlapping windows and drops the remainder', () => {
    const tokens = Array.from({ length: 10 }, (_, i) => i);
    expect(windows(tokens, 4)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
    expect(windows(tokens, 3, 2)).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(() => windows(tokens, 1)).toThrow(RangeError);
  });
});
