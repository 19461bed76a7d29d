// Where model bytes come from: a dropped File, a URL served with range requests, or memory. Readers
// ask for byte ranges, so a multi-gigabyte checkpoint is never copied whole into memory.

export interface ByteSource {
  /** Shown in error messages: a file name or URL. */
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number): Promise<ArrayBuffer>;
}

export class ModelFormatError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly tensor?: string,
  ) {
    super(`${file}${tensor ? ` (tensor "${tensor}")` : ''}: ${message}`);
    this.name = 'ModelFormatError';
  }
}

function checkRange(source: ByteSource, offset: number, length: number): void {
  if (offset < 0 || length < 0 || offset + length > source.size) {
    throw new ModelFormatError(
      source.name,
      `read of ${length} bytes at ${offset} is past the end of the file (${source.size} bytes): the file is truncated`,
    );
  }
}

export function bytesSource(name: string, data: ArrayBuffer | Uint8Array): ByteSource {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const source: ByteSource = {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      checkRange(source, offset, length);
      // A copy into a fresh buffer: Node's Buffer.slice would return a view of a shared pool.
      const copy = new Uint8Array(length);
      copy.set(bytes.subarray(offset, offset + length));
      return copy.buffer;
    },
  };
  return source;
}

/** A File or Blob: slices are read lazily by the browser. */
export function blobSource(blob: Blob, name = (blob as File).name ?? 'blob'): ByteSource {
  const source: ByteSource = {
    name,
    size: blob.size,
    async read(offset, length) {
      checkRange(source, offset, length);
      return blob.slice(offset, offset + length).arrayBuffer();
    },
  };
  return source;
}

/** A URL whose server answers range requests (as static hosts and the Hugging Face hub do). */
export async function urlSource(url: string, fetchFn: typeof fetch = fetch): Promise<ByteSource> {
  // The probe asks for the first 8 bytes, not 1: some servers read "bytes=0-0" as the whole file.
  // Range reads bypass the HTTP cache: a browser may answer a repeated range from its cache with
  // an empty body, and each byte of a model is read once anyway.
  const head = await fetchFn(url, { headers: { Range: 'bytes=0-7' }, cache: 'no-store' });
  if (!head.ok) throw new ModelFormatError(url, `the server answered ${head.status} ${head.statusText}`);
  const total = /\/(\d+)$/.exec(head.headers.get('Content-Range') ?? '')?.[1];
  if (head.status !== 206 || total === undefined) {
    throw new ModelFormatError(
      url,
      'the server does not support range requests, so the file cannot be read in parts',
    );
  }
  await head.arrayBuffer();
  const source: ByteSource = {
    name: url,
    size: Number(total),
    async read(offset, length) {
      checkRange(source, offset, length);
      if (length === 0) return new ArrayBuffer(0);
      const response = await fetchFn(url, {
        headers: { Range: `bytes=${offset}-${offset + length - 1}` },
        cache: 'no-store',
      });
      if (response.status !== 206) {
        throw new ModelFormatError(url, `range request answered ${response.status} instead of 206`);
      }
      const body = await response.arrayBuffer();
      // A server may send more than was asked for; Content-Range says where its bytes start.
      const start = Number(/bytes (\d+)-/.exec(response.headers.get('Content-Range') ?? '')?.[1] ?? offset);
      if (start > offset || start + body.byteLength < offset + length) {
        throw new ModelFormatError(
          url,
          `asked for ${length} bytes at ${offset}, got ${body.byteLength} at ${start}`,
        );
      }
      return body.byteLength === length && start === offset
        ? body
        : body.slice(offset - start, offset - start + length);
    },
  };
  return source;
}
