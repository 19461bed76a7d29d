import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLlama2cTokenizer } from './llama2c';
import { TokenizerError } from './tokenizer';

const TOK512 = new URL('../../public/models/stories260K/tok512.bin', import.meta.url);

function load(): ArrayBuffer {
  const bytes = readFileSync(TOK512);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

/**
 * A literal transcription of run.c's `encode`, kept deliberately naive (its own file parser, rescan
 * every pair after every merge) so that it shares nothing with the heap-based encoder under test.
 */
function referenceEncode(file: ArrayBuffer, vocabSize: number, text: string, bos: boolean): number[] {
  const view = new DataView(file);
  const vocab: number[][] = [];
  const scores: number[] = [];
  let offset = 4;
  for (let i = 0; i < vocabSize; i++) {
    scores.push(view.getFloat32(offset, true));
    const length = view.getInt32(offset + 4, true);
    vocab.push([...new Uint8Array(file, offset + 8, length)]);
    offset += 8 + length;
  }
  // run.c's str_lookup: the first id whose bytes are these. A map rather than a scan of all 512
  // pieces per lookup, which made this reference most of its test's time; the merge loop below
  // stays run.c's naive rescan.
  const firstId = new Map<string, number>();
  vocab.forEach((v, id) => {
    if (!firstId.has(v.join())) firstId.set(v.join(), id);
  });
  const lookup = (bytes: number[]): number => firstId.get(bytes.join()) ?? -1;
  const tokens = bos ? [1] : [];
  const utf8 = [...new TextEncoder().encode(text)];
  if (utf8.length > 0) tokens.push(lookup([32]));
  let buffer: number[] = [];
  utf8.forEach((byte, i) => {
    if ((byte & 0xc0) !== 0x80) buffer = [];
    buffer.push(byte);
    if (((utf8[i + 1] ?? 0) & 0xc0) === 0x80 && buffer.length < 4) return;
    const id = lookup(buffer);
    if (id !== -1) tokens.push(id);
    else for (const b of buffer) tokens.push(b + 3);
    buffer = [];
  });
  for (;;) {
    let best = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = lookup([...(vocab[tokens[i] ?? 0] ?? []), ...(vocab[tokens[i + 1] ?? 0] ?? [])]);
      if (id !== -1 && (scores[id] ?? 0) > best) {
        best = scores[id] ?? 0;
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  return tokens;
}

/** Deterministic PRNG (mulberry32) so that a failing random case can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STORY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.\n' +
  'One day, she saw a big, red ball! "Can I play with it?" she asked her mom. Her mom said, "Yes, but be careful."\n' +
  "Lily's friend Tom (who was 5) didn't want to share... They played; then they went home: happy & tired.";

describe('llama2.c tokenizer (stories260K tok512.bin)', () => {
  const file = load();
  const tok = parseLlama2cTokenizer(file, 512);

  it('reads the header and the special ids', () => {
    expect(tok.kind).toBe('llama2c');
    expect(tok.vocabSize).toBe(512);
    expect(tok.maxTokenLength).toBe(7);
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
  });

  it('encodes the start of the greedy stories260K output as run.c does', () => {
    const text = 'Once upon a time, there was a little girl named Lily.';
    const ids = tok.encode(text, { addBos: true });
    // From a direct Python port of run.c's encode on this tok512.bin.
    expect(ids).toEqual([1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426]);
    expect(ids).toEqual(referenceEncode(file, 512, text, true));
    expect(tok.decode(ids)).toBe(text);
  });

  it('round-trips story text with punctuation, quotes and new lines', () => {
    for (const addBos of [false, true]) {
      const ids = tok.encode(STORY, { addBos });
      expect(ids[0] === 1).toBe(addBos);
      expect(tok.decode(ids)).toBe(STORY);
    }
    // Far fewer tokens than bytes: the merges did their work.
    expect(tok.encode(STORY).length).toBeLessThan(STORY.length / 2);
  });

  it('falls back to bytes for characters outside the vocabulary and round-trips them', () => {
    const text = 'Café 😀 naïve — 東京 Ωmega';
    const ids = tok.encode(text);
    expect(ids.some((id) => id >= 3 && id < 259)).toBe(true);
    // 😀 is F0 9F 98 80: four byte tokens in a row.
    const emoji = [0xf0, 0x9f, 0x98, 0x80].map((b) => b + 3);
    expect(ids.join(',')).toContain(emoji.join(','));
    expect(tok.decode(ids)).toBe(text);
    expect(tok.decode(tok.encode(text, { addBos: true }))).toBe(text);
  });

  it('encodes the empty string to nothing (no dummy prefix) or BOS alone', () => {
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('', { addBos: true })).toEqual([1]);
    expect(tok.decode([])).toBe('');
    expect(tok.decode([1, 2])).toBe('');
  });

  it('keeps leading and repeated spaces: only the dummy prefix is stripped', () => {
    for (const text of [' leading', '  two', 'trailing ', 'a  b', '\n', ' ']) {
      expect(tok.decode(tok.encode(text))).toBe(text);
      expect(tok.decode(tok.encode(text, { addBos: true }))).toBe(text);
    }
  });

  it('gives the merge-maximal encoding: the same ids as naive run.c, and no pair left to merge', () => {
    const rand = random(260);
    const alphabet = [
      ...'abcdefghijklmnopqrstuvwxyz',
      ...'  ,.!?"\'\n',
      'Lily',
      'Tim',
      'the',
      ' was',
      'é',
      '😀',
      '世',
    ];
    const samples = ['', 'a', ' ', 'Once', 'the cat sat.', STORY.slice(0, 120)];
    for (let i = 0; i < 60; i++) {
      let s = '';
      const len = 1 + Math.floor(rand() * 24);
      for (let j = 0; j < len; j++) s += alphabet[Math.floor(rand() * alphabet.length)];
      samples.push(s);
    }
    const pieces = new Map<string, number>();
    const scores: number[] = [];
    {
      const view = new DataView(file);
      let offset = 4;
      for (let id = 0; id < 512; id++) {
        scores.push(view.getFloat32(offset, true));
        const length = view.getInt32(offset + 4, true);
        const key = [...new Uint8Array(file, offset + 8, length)].join(',');
        if (!pieces.has(key)) pieces.set(key, id);
        offset += 8 + length;
      }
    }
    // The bytes of an id's first piece (pieces keeps the first id of each byte string).
    const bytesById = new Map([...pieces].map(([bytes, id]) => [id, bytes]));
    const bytesOf = (id: number) => bytesById.get(id) ?? '';
    for (const text of samples) {
      for (const bos of [false, true]) {
        const ids = tok.encode(text, { addBos: bos });
        expect(ids, JSON.stringify(text)).toEqual(referenceEncode(file, 512, text, bos));
        for (let i = 0; i + 1 < ids.length; i++) {
          const merged = pieces.get(`${bytesOf(ids[i] ?? 0)},${bytesOf(ids[i + 1] ?? 0)}`);
          expect(merged === undefined || (scores[merged] ?? 0) <= -1e10, JSON.stringify(text)).toBe(true);
        }
        expect(tok.decode(ids)).toBe(text);
      }
    }
  });

  it('encodes a long text quickly (no quadratic rescan)', () => {
    const long = STORY.repeat(200);
    const ids = tok.encode(long);
    expect(tok.decode(ids)).toBe(long);
  });

  it('rejects ids outside the vocabulary when decoding', () => {
    expect(() => tok.decode([512])).toThrow(TokenizerError);
    expect(() => tok.decode([-1])).toThrow(/tok512\.bin: cannot decode id -1/);
  });
});

describe('llama2.c tokenizer file validation', () => {
  const file = load();
  const patched = (edit: (view: DataView) => void, bytes = file.byteLength): ArrayBuffer => {
    const copy = new ArrayBuffer(bytes);
    new Uint8Array(copy).set(new Uint8Array(file, 0, Math.min(bytes, file.byteLength)));
    edit(new DataView(copy));
    return copy;
  };
  const expectError = (data: ArrayBuffer, vocabSize: number, pattern: RegExp) => {
    let error: unknown;
    try {
      parseLlama2cTokenizer(data, vocabSize, 'tok512.bin');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TokenizerError);
    expect((error as TokenizerError).file).toBe('tok512.bin');
    expect((error as Error).message).toMatch(/^tok512\.bin: /);
    expect((error as Error).message).toMatch(pattern);
  };

  it('needs the vocab size from the model header', () => {
    expectError(file, 0, /vocab size 0 is not usable/);
    expectError(file, 258.5, /vocab size 258.5/);
  });

  it('rejects a file too short for its header', () => {
    expectError(new ArrayBuffer(2), 512, /too short/);
  });

  it('rejects a non-positive max_token_length', () => {
    expectError(
      patched((v) => v.setInt32(0, -3, true)),
      512,
      /max_token_length is -3/,
    );
  });

  it('rejects a truncated file', () => {
    expectError(
      patched(() => {}, file.byteLength - 3),
      512,
      /truncated: token 511 of 512/,
    );
    // 100 bytes cannot hold 512 tokens of at least 8 bytes each: refused before the tokens are read.
    expectError(
      patched(() => {}, 100),
      512,
      /is 100 bytes, too short for 512 tokens \(at least 4100\)/,
    );
  });

  it('rejects a vocab size that does not match the file', () => {
    expectError(file, 500, /bytes are left after 500 tokens/);
    expectError(file, 600, /truncated: token 512 of 600/);
    // A hostile model header's count is checked against the file before it sizes the scores.
    expectError(file, 1e9, /too short for 1000000000 tokens/);
  });

  it('rejects negative and oversized token lengths', () => {
    // Token 0 starts at byte 4: score at 4, length at 8.
    expectError(
      patched((v) => v.setInt32(8, -1, true)),
      512,
      /token 0 has byte length -1, outside 0..7/,
    );
    expectError(
      patched((v) => v.setInt32(8, 1 << 30, true)),
      512,
      /token 0 has byte length 1073741824/,
    );
  });

  it('rejects a non-finite score', () => {
    expectError(
      patched((v) => v.setFloat32(4, Number.NaN, true)),
      512,
      /token 0 has score NaN/,
    );
  });

  it('rejects a vocabulary whose ids 3..258 are not the byte tokens', () => {
    // Token 3 is "<0x00>": its first byte sits after token 0 (<unk>), 1 (\n<s>\n) and 2 (\n</s>\n).
    const at = 4 + (8 + 5) + (8 + 5) + (8 + 6) + 8;
    expectError(
      patched((v) => v.setUint8(at + 3, 'Z'.charCodeAt(0))),
      512,
      /token 3 is "<0xZ0>" where byte fallback needs <0x00>/,
    );
  });
});
