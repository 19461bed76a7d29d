// The tokenizer of Karpathy's llama2.c (`tokenizer.bin`, `tok512.bin`): a SentencePiece BPE vocabulary
// exported as pieces with scores. Encoding and decoding follow llama2.c's run.c (`encode`, `decode`) so
// that ids match the ones the checkpoints were trained and evaluated on, byte for byte.
//
// File layout (little-endian): int32 max_token_length, then per token: float32 score, int32 byte
// length, the bytes. The file does not store the token count; the model header does.
//
// Pieces are kept as "binary strings" (one char per byte, code 0..255) because a piece need not be
// valid UTF-8 on its own; concatenating two of them is then exactly run.c's byte concatenation.

import { type EncodeOptions, type Tokenizer, TokenizerError } from './tokenizer';

const BOS = 1;
const EOS = 2;
/** Ids 3..258 are the byte-fallback tokens <0x00>..<0xFF>. */
const BYTE_OFFSET = 3;
/** run.c starts its search at best_score = -1e10, so a piece scoring at or below it is never merged. */
const NO_MERGE_SCORE = -1e10;

export class Llama2cTokenizer implements Tokenizer {
  readonly kind = 'llama2c';
  readonly bosId = BOS;
  readonly eosId = EOS;
  readonly vocabSize: number;
  /** Longest piece in bytes, as the file declares it. */
  readonly maxTokenLength: number;
  private readonly pieces: string[];
  private readonly scores: Float32Array;
  private readonly ids = new Map<string, number>();
  private readonly file: string;

  constructor(file: string, maxTokenLength: number, pieces: string[], scores: Float32Array) {
    this.file = file;
    this.maxTokenLength = maxTokenLength;
    this.pieces = pieces;
    this.scores = scores;
    this.vocabSize = pieces.length;
    // run.c finds pieces by bsearch, which picks an arbitrary one of equal strings; take the first.
    pieces.forEach((piece, id) => {
      if (!this.ids.has(piece)) this.ids.set(piece, id);
    });
  }

  encode(text: string, options?: EncodeOptions): number[] {
    const tokens: number[] = options?.addBos ? [BOS] : [];
    if (text.length > 0) {
      // SentencePiece's add_dummy_prefix: the model only ever saw text with a space in front.
      const bytes = new TextEncoder().encode(` ${text}`);
      // One UTF-8 character at a time (a lead byte and its continuation bytes, at most 4, as run.c).
      for (let start = 0; start < bytes.length; ) {
        let end = start + 1;
        while (end < bytes.length && end - start < 4 && (bytes[end] ?? 0) >> 6 === 0b10) end++;
        const char = bytes.subarray(start, end);
        const id = this.ids.get(String.fromCharCode(...char));
        if (id !== undefined) tokens.push(id);
        else for (const byte of char) tokens.push(byte + BYTE_OFFSET);
        start = end;
      }
    }
    return this.merge(tokens);
  }

  decode(ids: number[]): string {
    const bytes: number[] = [];
    // run.c strips the leading space of the token after BOS (the dummy prefix). A sequence given
    // without BOS starts where the dummy prefix was, so it is stripped there too, as SentencePiece does.
    let prev = BOS;
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new TokenizerError(
          this.file,
          `cannot decode id ${id}: this vocabulary has ids 0..${this.vocabSize - 1}`,
        );
      }
      if (id === BOS || id === EOS) {
        prev = id;
        continue;
      }
      if (id >= BYTE_OFFSET && id < BYTE_OFFSET + 256) {
        bytes.push(id - BYTE_OFFSET);
      } else {
        const piece = this.pieces[id] ?? '';
        for (let i = prev === BOS && piece.startsWith(' ') ? 1 : 0; i < piece.length; i++) {
          bytes.push(piece.charCodeAt(i));
        }
      }
      prev = id;
    }
    return new TextDecoder().decode(Uint8Array.from(bytes));
  }

  /**
   * run.c merges, again and again, the adjacent pair whose concatenation is the highest-scoring piece
   * (the leftmost pair on ties). Its rescan per merge is quadratic; this does the same merges in the
   * same order with a heap ordered by (score, left position) over a linked list, so a whole corpus
   * encodes in O(n log n). Positions keep their order in the list, so "leftmost" is "smallest index".
   */
  private merge(tokens: number[]): number[] {
    const n = tokens.length;
    const id = Int32Array.from(tokens);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new PairHeap();
    const consider = (left: number): void => {
      if (left < 0) return;
      const right = next[left] ?? -1;
      if (right < 0) return;
      const leftId = id[left] ?? 0;
      const rightId = id[right] ?? 0;
      const merged = this.ids.get((this.pieces[leftId] ?? '') + (this.pieces[rightId] ?? ''));
      if (merged === undefined) return;
      const score = this.scores[merged] ?? NO_MERGE_SCORE;
      if (score > NO_MERGE_SCORE) heap.push({ score, left, right, leftId, rightId, merged });
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    for (let pair = heap.pop(); pair !== undefined; pair = heap.pop()) {
      const { left, right } = pair;
      // A pair is stale once either side was merged into something else.
      if (
        alive[left] === 0 ||
        next[left] !== right ||
        id[left] !== pair.leftId ||
        id[right] !== pair.rightId
      ) {
        continue;
      }
      id[left] = pair.merged;
      alive[right] = 0;
      const after = next[right] ?? -1;
      next[left] = after;
      if (after >= 0) prev[after] = left;
      consider(prev[left] ?? -1);
      consider(left);
    }
    const out: number[] = [];
    for (let i = 0; i < n; i++) if (alive[i] === 1) out.push(id[i] ?? 0);
    return out;
  }
}

interface Pair {
  score: number;
  left: number;
  right: number;
  leftId: number;
  rightId: number;
  merged: number;
}

/** Max-heap on score; on equal scores the leftmost pair comes first. */
class PairHeap {
  private readonly items: Pair[] = [];

  private before(a: Pair, b: Pair): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }

  push(pair: Pair): void {
    const items = this.items;
    let i = items.push(pair) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as Pair;
      if (!this.before(pair, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = pair;
  }

  pop(): Pair | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= items.length) break;
      const r = l + 1;
      const child = r < items.length && this.before(items[r] as Pair, items[l] as Pair) ? r : l;
      const c = items[child] as Pair;
      if (!this.before(c, last)) break;
      items[i] = c;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

/**
 * Reads a llama2.c tokenizer file. `vocabSize` comes from the model header (stories260K: 512) because
 * the file does not hold it; a wrong count shows up as a truncated file or bytes left over.
 */
export function parseLlama2cTokenizer(
  data: ArrayBuffer,
  vocabSize: number,
  file = 'tok512.bin',
): Llama2cTokenizer {
  if (!Number.isInteger(vocabSize) || vocabSize < BYTE_OFFSET + 256) {
    throw new TokenizerError(
      file,
      `vocab size ${vocabSize} is not usable: llama2.c vocabularies have <unk>, <s>, </s> and 256 byte tokens, ` +
        'so at least 259 (take it from the model header)',
    );
  }
  const view = new DataView(data);
  if (data.byteLength < 4) {
    throw new TokenizerError(file, `is ${data.byteLength} bytes, too short for its int32 max_token_length`);
  }
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength <= 0) {
    throw new TokenizerError(
      file,
      `max_token_length is ${maxTokenLength}; it must be positive (is this a llama2.c tokenizer?)`,
    );
  }
  // Every token takes at least 8 bytes (score and length), so the file bounds the count before the
  // scores are allocated by it: a hostile header's vocab size must not size a buffer on its own.
  if (4 + 8 * vocabSize > data.byteLength) {
    throw new TokenizerError(
      file,
      `is ${data.byteLength} bytes, too short for ${vocabSize} tokens (at least ${4 + 8 * vocabSize}); is the vocab size right?`,
    );
  }
  const pieces: string[] = [];
  const scores = new Float32Array(vocabSize);
  const truncated = (id: number, offset: number) =>
    new TokenizerError(
      file,
      `truncated: token ${id} of ${vocabSize} needs bytes past the end (offset ${offset}, file ${data.byteLength} bytes); ` +
        'is the file complete and the vocab size right?',
    );
  let offset = 4;
  for (let id = 0; id < vocabSize; id++) {
    if (offset + 8 > data.byteLength) throw truncated(id, offset);
    const score = view.getFloat32(offset, true);
    const length = view.getInt32(offset + 4, true);
    if (!Number.isFinite(score))
      throw new TokenizerError(file, `token ${id} has score ${score}; scores must be finite`);
    if (length < 0 || length > maxTokenLength) {
      throw new TokenizerError(
        file,
        `token ${id} has byte length ${length}, outside 0..${maxTokenLength} (max_token_length); the file is corrupt`,
      );
    }
    offset += 8;
    if (offset + length > data.byteLength) throw truncated(id, offset);
    let piece = '';
    for (const byte of new Uint8Array(data, offset, length)) piece += String.fromCharCode(byte);
    pieces.push(piece);
    scores[id] = score;
    offset += length;
  }
  if (offset !== data.byteLength) {
    throw new TokenizerError(
      file,
      `${data.byteLength - offset} bytes are left after ${vocabSize} tokens: the vocab size does not match this file`,
    );
  }
  // Byte fallback encodes a byte b as id b + 3; check that those ids really are the byte tokens.
  for (let byte = 0; byte < 256; byte++) {
    const piece = pieces[byte + BYTE_OFFSET] ?? '';
    const match = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
    if (match === null || Number.parseInt(match[1] ?? '', 16) !== byte) {
      throw new TokenizerError(
        file,
        `token ${byte + BYTE_OFFSET} is ${JSON.stringify(piece)} where byte fallback needs <0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`,
      );
    }
  }
  return new Llama2cTokenizer(file, maxTokenLength, pieces, scores);
}
