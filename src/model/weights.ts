// The engine's own names for a model's tensors, and the map from each Hugging Face family's names
// to them. Every weight matrix is held out × in (y = W x, PyTorch's Linear layout); GPT-2's Conv1D
// weights (in × out, with q, k and v fused) are transposed and split on load and put back on export.
// A F16 or BF16 checkpoint's tensors can also be read as their stored 16-bit bits (readHalf), in the
// same layout, and are exported in their own dtype.

import { type HalfDtype, halfIsFinite } from '../kernels/halfFloat';
import { ModelFormatError } from './byteSource';
import type { ModelConfig } from './config';
import { checkConfigAgainstTensors } from './configCheck';
import {
  type Dtype,
  readTensorF32,
  readTensorHalves,
  type TensorInfo,
  type TensorToWrite,
} from './safetensors';

/** A tensor in the engine's naming, with the shape the engine expects. */
export interface CanonicalTensor {
  name: string;
  shape: number[];
}

/** The operators of one block, in execution order; pruning visits them in this order too. */
export function blockOperators(c: ModelConfig): string[] {
  return c.activation === 'swiglu'
    ? ['q', 'k', 'v', 'o', 'gate', 'up', 'down']
    : ['q', 'k', 'v', 'o', 'up', 'down'];
}

export function canonicalTensors(c: ModelConfig): CanonicalTensor[] {
  const d = c.hidden;
  const qd = c.heads * c.headDim;
  const kvd = c.kvHeads * c.headDim;
  const f = c.ffnHidden;
  const out: CanonicalTensor[] = [{ name: 'tok_embeddings', shape: [c.vocabSize, d] }];
  if (c.positions === 'learned')
    out.push({ name: 'pos_embeddings', shape: [c.maxPositions + c.positionOffset, d] });
  const norm = (name: string) => {
    out.push({ name: `${name}.weight`, shape: [d] });
    if (c.norm === 'layernorm') out.push({ name: `${name}.bias`, shape: [d] });
  };
  const linear = (name: string, rows: number, cols: number) => {
    out.push({ name: `${name}.weight`, shape: [rows, cols] });
    if (c.bias) out.push({ name: `${name}.bias`, shape: [rows] });
  };
  for (let i = 0; i < c.layers; i++) {
    const p = `layers.${i}`;
    norm(`${p}.attn_norm`);
    linear(`${p}.q`, qd, d);
    linear(`${p}.k`, kvd, d);
    linear(`${p}.v`, kvd, d);
    linear(`${p}.o`, d, qd);
    norm(`${p}.mlp_norm`);
    // Llama's MLP has no biases even when attention has them.
    if (c.activation === 'swiglu') {
      out.push({ name: `${p}.gate.weight`, shape: [f, d] }, { name: `${p}.up.weight`, shape: [f, d] });
      out.push({ name: `${p}.down.weight`, shape: [d, f] });
    } else {
      linear(`${p}.up`, f, d);
      linear(`${p}.down`, d, f);
    }
  }
  norm('final_norm');
  if (!c.tiedEmbeddings) out.push({ name: 'lm_head.weight', shape: [c.vocabSize, d] });
  return out;
}

/** How a canonical tensor is stored in a Hugging Face checkpoint. */
interface HfSource {
  hf: string;
  transpose: boolean;
  /** GPT-2's c_attn holds q, k and v side by side: which third. */
  part?: number;
}

const LLAMA_NAMES: Record<string, string> = {
  attn_norm: 'input_layernorm',
  mlp_norm: 'post_attention_layernorm',
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj',
};
const OPT_NAMES: Record<string, string> = {
  attn_norm: 'self_attn_layer_norm',
  mlp_norm: 'final_layer_norm',
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.out_proj',
  up: 'fc1',
  down: 'fc2',
};
const GPT2_NAMES: Record<string, string> = {
  attn_norm: 'ln_1',
  mlp_norm: 'ln_2',
  o: 'attn.c_proj',
  up: 'mlp.c_fc',
  down: 'mlp.c_proj',
};

/** Candidate prefixes, tried in order: a bare model or one saved with its LM-head wrapper. */
const PREFIXES: Record<ModelConfig['family'], string[]> = {
  gpt2: ['', 'transformer.'],
  opt: ['model.decoder.', 'decoder.'],
  llama: ['model.', ''],
};
const EMBEDDING: Record<ModelConfig['family'], string> = {
  gpt2: 'wte.weight',
  opt: 'embed_tokens.weight',
  llama: 'embed_tokens.weight',
};

export function hfSource(c: ModelConfig, prefix: string, canonical: string): HfSource {
  const plain = (hf: string): HfSource => ({ hf, transpose: false });
  if (canonical === 'lm_head.weight') return plain('lm_head.weight');
  const family = c.family;
  const top: Record<string, string> =
    family === 'gpt2'
      ? { tok_embeddings: 'wte.weight', pos_embeddings: 'wpe.weight', final_norm: 'ln_f' }
      : family === 'opt'
        ? {
            tok_embeddings: 'embed_tokens.weight',
            pos_embeddings: 'embed_positions.weight',
            final_norm: 'final_layer_norm',
          }
        : { tok_embeddings: 'embed_tokens.weight', final_norm: 'norm' };
  const [head, ...rest] = canonical.split('.');
  if (head !== 'layers') {
    const base = top[head as string];
    if (base === undefined) throw new RangeError(`no ${family} tensor for ${canonical}`);
    return plain(prefix + (rest.length ? `${base}.${rest.join('.')}` : base));
  }
  const [layer, op, kind] = rest as [string, string, string];
  const layerPrefix = `${prefix}${family === 'gpt2' ? 'h' : 'layers'}.${layer}.`;
  if (family === 'gpt2') {
    const qkv = ['q', 'k', 'v'].indexOf(op);
    if (qkv >= 0) return { hf: `${layerPrefix}attn.c_attn.${kind}`, transpose: kind === 'weight', part: qkv };
    const isNorm = op === 'attn_norm' || op === 'mlp_norm';
    return { hf: `${layerPrefix}${GPT2_NAMES[op]}.${kind}`, transpose: !isNorm && kind === 'weight' };
  }
  const names = family === 'opt' ? OPT_NAMES : LLAMA_NAMES;
  return plain(`${layerPrefix}${names[op]}.${kind}`);
}

/** A model's tensors in the engine's naming, read lazily from whatever holds them. */
export interface WeightSource {
  config: ModelConfig;
  /** Names shown in errors: the files. */
  description: string;
  read(canonical: string): Promise<Float32Array>;
  /** How the checkpoint stores a tensor; F32 when absent (sources built from f32 arrays). */
  dtype?(canonical: string): Dtype;
  /** The stored bits of a tensor whose dtype is F16 or BF16, in the engine's layout, as read() would order them. */
  readHalf?(canonical: string): Promise<Uint16Array>;
}

/** A WeightSource over tensors already in memory (an imported llama2.c model, a test model). */
export function memoryWeightSource(
  config: ModelConfig,
  tensors: Map<string, Float32Array>,
  description: string,
): WeightSource {
  for (const t of canonicalTensors(config)) {
    const data = tensors.get(t.name);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (!data) throw new ModelFormatError(description, 'missing', t.name);
    if (data.length !== size) {
      throw new ModelFormatError(
        description,
        `holds ${data.length} values, the config needs [${t.shape}]`,
        t.name,
      );
    }
  }
  return {
    config,
    description,
    async read(canonical) {
      const data = tensors.get(canonical);
      if (!data) throw new RangeError(`no tensor ${canonical}`);
      return data;
    },
  };
}

/** Canonical tensors from a (possibly sharded) set of safetensors headers. */
export function hfWeightSource(
  config: ModelConfig,
  tensors: Map<string, TensorInfo>,
  description: string,
): WeightSource {
  const prefix = PREFIXES[config.family].find((p) => tensors.has(p + EMBEDDING[config.family]));
  if (prefix === undefined) {
    throw new ModelFormatError(
      description,
      `no token embedding found (looked for ${PREFIXES[config.family].map((p) => p + EMBEDDING[config.family]).join(', ')}); is this a ${config.family} checkpoint?`,
    );
  }
  // The config's sizes first: the list of expected tensors below is as long as it claims.
  checkConfigAgainstTensors(
    config,
    tensors,
    prefix,
    (canonical) => hfSource(config, prefix, canonical).hf,
    description,
  );
  const expected = new Map(canonicalTensors(config).map((t) => [t.name, t.shape]));
  // Check every tensor's presence and shape from the headers, before any weight is read.
  for (const [name, shape] of expected) {
    const src = hfSource(config, prefix, name);
    const info = tensors.get(src.hf);
    if (!info) throw new ModelFormatError(description, 'missing from the checkpoint', src.hf);
    const want = storedShape(config, shape, src);
    if (info.shape.join(',') !== want.join(',')) {
      throw new ModelFormatError(
        info.source.name,
        `shape [${info.shape}] does not match the config, which needs [${want}]`,
        src.hf,
      );
    }
  }
  const locate = (canonical: string) => {
    if (!expected.has(canonical)) throw new RangeError(`no tensor ${canonical} in a ${config.family} model`);
    const src = hfSource(config, prefix, canonical);
    return { src, info: tensors.get(src.hf) as TensorInfo };
  };
  /** GPT-2's fused and transposed tensors, put in the engine's layout. */
  const reorder = <T extends Float32Array | Uint16Array>(data: T, src: HfSource, shape: number[]): T => {
    if (src.part !== undefined) return takePart(data, shape, src.part, src.transpose);
    if (src.transpose) return transposeMatrix(data, shape[0] as number, shape[1] as number);
    return data;
  };
  return {
    config,
    description,
    async read(canonical) {
      const { src, info } = locate(canonical);
      const data = await readTensorF32(info);
      // Checked before any reordering, so the element index is the one in the file.
      checkFinite(info.source.name, src.hf, data);
      return reorder(data, src, info.shape);
    },
    dtype: (canonical) => locate(canonical).info.dtype,
    async readHalf(canonical) {
      const { src, info } = locate(canonical);
      const bits = await readTensorHalves(info);
      checkFiniteHalves(info.source.name, src.hf, info.dtype as HalfDtype, bits);
      return reorder(bits, src, info.shape);
    },
  };
}

function storedShape(c: ModelConfig, shape: number[], src: HfSource): number[] {
  if (src.part !== undefined) {
    return src.transpose ? [c.hidden, 3 * (shape[0] as number)] : [3 * (shape[0] as number)];
  }
  return src.transpose ? [shape[1] as number, shape[0] as number] : shape;
}

/** An empty array of data's kind: weights are handled as f32 values or as 16-bit stored bits. */
function allocLike<T extends Float32Array | Uint16Array>(data: T, length: number): T {
  return (data instanceof Float32Array ? new Float32Array(length) : new Uint16Array(length)) as T;
}

/** One third of GPT-2's fused c_attn, as an out × in matrix (or a bias vector). */
function takePart<T extends Float32Array | Uint16Array>(
  data: T,
  shape: number[],
  part: number,
  isWeight: boolean,
): T {
  if (!isWeight) {
    const n = data.length / 3;
    return data.slice(part * n, (part + 1) * n) as T;
  }
  const [rows, cols] = shape as [number, number];
  const n = cols / 3;
  const out = allocLike(data, n * rows);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) out[j * rows + r] = data[r * cols + part * n + j] as number;
  }
  return out;
}

export function transposeMatrix<T extends Float32Array | Uint16Array>(
  data: T,
  rows: number,
  cols: number,
): T {
  const out = allocLike(data, data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c] as number;
  }
  return out;
}

export function checkFinite(file: string, tensor: string, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new ModelFormatError(file, `holds ${data[i]} at element ${i}; the weights are corrupt`, tensor);
    }
  }
}

/** The 16-bit twin of checkFinite: an all-ones exponent is an infinity or a NaN. */
function checkFiniteHalves(file: string, tensor: string, dtype: HalfDtype, bits: Uint16Array): void {
  for (let i = 0; i < bits.length; i++) {
    if (!halfIsFinite(dtype, bits[i] as number)) {
      throw new ModelFormatError(
        file,
        `holds a non-finite ${dtype} value (bits 0x${(bits[i] as number).toString(16)}) at element ${i}; the weights are corrupt`,
        tensor,
      );
    }
  }
}

/**
 * One tensor of a Hugging Face export, before its data is read: the stored name, shape and dtype,
 * and the canonical tensors it is made of, so that a writer can lay out a whole file (its header
 * first) and then read, convert and write one tensor at a time.
 */
export interface HfExportEntry {
  name: string;
  shape: number[];
  dtype: Dtype;
  /** One canonical tensor, or GPT-2's q, k and v in that order (its fused c_attn). */
  parts: string[];
  /** The canonical shape of each part. */
  partShape: number[];
  /** Stored in × out (GPT-2's Conv1D) where the engine keeps out × in. */
  transpose: boolean;
}

/**
 * The tensors of source's export in its Hugging Face family's naming and layout, in the order the
 * file stores them, each in the dtype its checkpoint stored it in: a F16 model exports as F16, a
 * BF16 one as BF16.
 */
export function hfExportLayout(source: WeightSource): HfExportEntry[] {
  const c = source.config;
  const prefix = (PREFIXES[c.family] as string[])[0] as string;
  const out: HfExportEntry[] = [];
  const fused = new Map<string, HfExportEntry>();
  for (const t of canonicalTensors(c)) {
    const src = hfSource(c, prefix, t.name);
    const dtype = source.dtype?.(t.name) ?? 'F32';
    const entry: HfExportEntry = fused.get(src.hf) ?? {
      name: src.hf,
      shape: storedShape(c, t.shape, src),
      dtype,
      parts: [],
      partShape: t.shape,
      transpose: src.transpose,
    };
    if (src.part === undefined) {
      entry.parts.push(t.name);
      out.push(entry);
      continue;
    }
    // q, k and v come from one fused tensor, so they share its dtype.
    entry.parts[src.part] = t.name;
    entry.dtype = dtype;
    fused.set(src.hf, entry);
    if (entry.parts.filter(Boolean).length === 3) out.push(entry);
  }
  return out;
}

/** An export entry's data in its stored layout, as f32 values. */
export async function readHfExportTensor(source: WeightSource, entry: HfExportEntry): Promise<Float32Array> {
  const [rows, cols] = entry.partShape as [number, number];
  const parts: Float32Array[] = [];
  for (const name of entry.parts) {
    const data = await source.read(name);
    parts.push(entry.transpose ? transposeMatrix(data, rows, cols) : data);
  }
  return parts.length === 1 ? (parts[0] as Float32Array) : joinParts({ shape: entry.shape, parts });
}

/** Every tensor of source's export, read into memory (see hfExportLayout for one at a time). */
export async function hfTensorsForExport(source: WeightSource): Promise<TensorToWrite[]> {
  const out: TensorToWrite[] = [];
  for (const entry of hfExportLayout(source)) {
    const { name, shape, dtype } = entry;
    out.push({ name, shape, dtype, data: await readHfExportTensor(source, entry) });
  }
  return out;
}

/** Puts q, k and v (each in × out here) back side by side as GPT-2's c_attn. */
function joinParts(entry: { shape: number[]; parts: Float32Array[] }): Float32Array {
  if (entry.shape.length === 1) {
    const out = new Float32Array(entry.shape[0] as number);
    for (const [i, p] of entry.parts.entries()) out.set(p, i * p.length);
    return out;
  }
  const [rows, cols] = entry.shape as [number, number];
  const n = cols / 3;
  const out = new Float32Array(rows * cols);
  for (const [part, p] of entry.parts.entries()) {
    for (let r = 0; r < rows; r++) out.set(p.subarray(r * n, (r + 1) * n), r * cols + part * n);
  }
  return out;
}
