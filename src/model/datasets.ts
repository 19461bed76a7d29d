// The evaluation texts, assembled exactly as the papers' code assembles them before tokenizing.

/**
 * WikiText-2 raw test as Hugging Face `datasets` yields it and SparseGPT/Wanda/FISTAPruner join
 * it: each line of wiki.test.raw is a row, a blank line (" ") is the empty row, every other row
 * keeps its newline, and rows are joined with "\n\n". (Reading the file whole gives a different
 * string, and a different perplexity.)
 */
export function joinWikitext(raw: string): string {
  const lines = raw.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => (line.trim() === '' ? '' : `${line}\n`)).join('\n\n');
}

/** The stories of the TinyStories sample, each without its end-of-text marker line. */
export function splitStories(text: string): string[] {
  return text
    .split('<|endoftext|>')
    .map((s) => s.replace(/^\n+|\n+$/g, ''))
    .filter((s) => s.length > 0);
}

/**
 * Cuts a token stream into non-overlapping windows of `length` tokens, dropping the remainder (the
 * papers' protocol: nsamples = numel // seqlen), optionally only the first `limit` windows.
 */
export function windows(
  tokens: readonly number[],
  length: number,
  limit = Number.POSITIVE_INFINITY,
): number[][] {
  if (!Number.isInteger(length) || length < 2)
    throw new RangeError(`window length must be an integer ≥ 2, got ${length}`);
  const count = Math.min(Math.floor(tokens.length / length), limit);
  return Array.from({ length: count }, (_, i) => tokens.slice(i * length, (i + 1) * length));
}
