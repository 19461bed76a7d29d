// The CLI's store of a pruning run's finished matrices on disk (prune --pruned-on-disk; the
// interface is prune/prunedTensors.ts): each matrix is written to its own file of raw float32
// values when its block finishes and read back when the model is evaluated or exported, so the
// host holds one block's matrices at a time rather than the model's. The files live in a folder of
// their own, which the CLI removes when the run ends, however it ends.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PrunedTensors } from '../prune/prunedTensors';

/** A folder for stores, removed with everything in it by remove(). */
export class PrunedOnDiskFolder {
  private constructor(readonly path: string) {}

  /** A new folder inside `parent` (created if missing). */
  static create(parent: string): PrunedOnDiskFolder {
    mkdirSync(parent, { recursive: true });
    return new PrunedOnDiskFolder(mkdtempSync(join(parent, '.pruned-matrices-')));
  }

  /** A new, empty store in this folder. */
  store(): PrunedOnDisk {
    return new PrunedOnDisk(mkdtempSync(join(this.path, 'store-')));
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export class PrunedOnDisk implements PrunedTensors {
  /** Each matrix's file and length, in the order they were set. */
  private readonly files = new Map<string, { path: string; length: number }>();

  constructor(private readonly folder: string) {}

  get size(): number {
    return this.files.size;
  }

  has(name: string): boolean {
    return this.files.has(name);
  }

  keys(): IterableIterator<string> {
    return this.files.keys();
  }

  set(name: string, data: Float32Array): this {
    // Numbered files: a tensor's name never becomes a path.
    const path = this.files.get(name)?.path ?? join(this.folder, `${this.files.size}.f32`);
    writeFileSync(path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.files.set(name, { path, length: data.length });
    return this;
  }

  get(name: string): Float32Array | undefined {
    const file = this.files.get(name);
    if (!file) return undefined;
    const bytes = readFileSync(file.path);
    if (bytes.length !== 4 * file.length)
      throw new Error(
        `${file.path}: the pruned ${name} was ${4 * file.length} bytes, the file now holds ${bytes.length}`,
      );
    // A copy into a buffer of its own: Node may hand back a slice of a shared, unaligned pool.
    return new Float32Array(new Uint8Array(bytes).buffer);
  }

  *[Symbol.iterator](): IterableIterator<[string, Float32Array]> {
    for (const name of this.files.keys()) yield [name, this.get(name) as Float32Array];
  }
}
