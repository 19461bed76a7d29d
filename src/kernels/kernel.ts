// One way to declare a kernel: its WGSL module, the entry points that share one uniform block, and
// that block as named, typed fields in the WGSL struct's order. A wrapper gets its pipeline from the
// declaration (`pipeline(rt)`) and packs its uniforms by name (`pack({ rows, cols, scale })`), so a
// value can no longer land in the wrong slot. On first use the declaration is checked against the
// WGSL: every entry point must exist and reach exactly the uniform struct declared (names and types,
// in order), so renaming a field on one side only fails at once, naming the field. Every
// declaration is kept in a registry, and a test checks them all without running them
// (src/kernelDeclarations.test.ts). Entry points of one module that take different blocks are
// separate declarations with the same name and code (they share the compiled module).

import type { GpuRuntime } from '../gpu/runtime';
import { readWgslShape, uniformsReached, type WgslModuleShape } from './wgslUniforms';

/** Every field of our uniform blocks is a 4-byte scalar. */
export type UniformType = 'u32' | 'f32';
export type UniformFields = Readonly<Record<string, UniformType>>;
export type UniformValues<F extends UniformFields> = { readonly [K in keyof F]: number };

export interface KernelDeclaration<F extends UniformFields, E extends string> {
  /** The module's name: it labels the pipeline, keys the runtime's caches and names errors. */
  name: string;
  code: string;
  /** The entry points that take this uniform block; ['main'] when omitted. */
  entryPoints?: readonly E[];
  /** The block bound at @group(0) @binding(0), in the WGSL struct's order; {} for none. */
  uniforms: F;
  /**
   * Label each pipeline "name/entry point" instead of "name", so that a profile (rt.startProfile)
   * splits the module's time by entry point. Default false.
   */
  labelEntryPoints?: boolean;
}

export interface Kernel<F extends UniformFields = UniformFields, E extends string = string> {
  readonly name: string;
  readonly code: string;
  readonly entryPoints: readonly E[];
  readonly uniforms: F;
  /** Compiles (once per runtime) the pipeline of one entry point (the first when omitted). */
  pipeline(rt: GpuRuntime, entryPoint?: E, constants?: Record<string, number>): Promise<GPUComputePipeline>;
  /** The uniform block, packed by name: every field exactly once, u32 fields unsigned integers. */
  pack(values: UniformValues<F>): ArrayBuffer;
  /** Checks the declaration against its WGSL; throws naming the kernel and what disagrees. */
  check(): void;
}

const registry: Kernel[] = [];
// Modules are shared by several declarations; each is read once.
const shapes = new Map<string, WgslModuleShape>();

/** Every kernel declared so far (by the modules imported so far). */
export function declaredKernels(): readonly Kernel[] {
  return registry;
}

export function defineKernel<const F extends UniformFields, const E extends string = 'main'>(
  declaration: KernelDeclaration<F, E>,
): Kernel<F, E> {
  const { name, code, uniforms } = declaration;
  const entryPoints = declaration.entryPoints ?? (['main'] as unknown as readonly E[]);
  if (entryPoints.length === 0) throw new Error(`kernel ${name}: no entry points declared`);
  const fields = Object.entries(uniforms) as [string, UniformType][];
  let checked = false;
  const label = (entryPoint?: string): string =>
    entryPoint ? `kernel ${name}/${entryPoint}` : `kernel ${name}`;

  const check = (): void => {
    if (checked) return;
    let shape = shapes.get(code);
    if (!shape) {
      shape = readWgslShape(code);
      shapes.set(code, shape);
    }
    for (const entryPoint of entryPoints) checkEntry(shape, entryPoint);
    checked = true;
  };

  const checkEntry = (shape: WgslModuleShape, entryPoint: string): void => {
    const where = label(entryPoint);
    if (!shape.entryPoints.has(entryPoint)) {
      throw new Error(`${where}: the WGSL has no @compute entry point "${entryPoint}"`);
    }
    const reached = uniformsReached(shape, entryPoint);
    if (fields.length === 0) {
      if (reached.length > 0) {
        throw new Error(
          `${where}: declared without uniforms but the WGSL reads ${reached.map((u) => u.variable).join(', ')}`,
        );
      }
      return;
    }
    if (reached.length !== 1) {
      throw new Error(
        `${where}: the entry point must read exactly one uniform block, but it reads ${reached.length}` +
          (reached.length ? ` (${reached.map((u) => u.variable).join(', ')})` : ''),
      );
    }
    const uniform = reached[0] as (typeof reached)[number];
    if (uniform.group !== 0 || uniform.binding !== 0) {
      throw new Error(`${where}: uniform ${uniform.variable} must be @group(0) @binding(0)`);
    }
    const wgsl = shape.structs.get(uniform.struct);
    if (!wgsl) throw new Error(`${where}: the WGSL has no struct ${uniform.struct}`);
    const length = Math.max(wgsl.length, fields.length);
    for (let i = 0; i < length; i++) {
      const w = wgsl[i];
      const d = fields[i];
      if (w && w.type !== 'u32' && w.type !== 'f32') {
        throw new Error(
          `${where}: field "${w.name}" of ${uniform.struct} is ${w.type}; only u32 and f32 are packed`,
        );
      }
      if (!w || !d || w.name !== d[0] || w.type !== d[1]) {
        const theirs = w ? `"${w.name}: ${w.type}"` : 'nothing';
        const ours = d ? `"${d[0]}: ${d[1]}"` : 'nothing';
        throw new Error(
          `${where}: uniform field ${i} is ${theirs} in the WGSL struct ${uniform.struct} but ${ours} in the declaration`,
        );
      }
    }
  };

  const kernel: Kernel<F, E> = {
    name,
    code,
    entryPoints,
    uniforms,
    check,
    pipeline(rt, entryPoint, constants) {
      const entry = entryPoint ?? (entryPoints[0] as E);
      if (!entryPoints.includes(entry)) {
        throw new Error(`${label()}: "${entry}" is not one of its entry points (${entryPoints.join(', ')})`);
      }
      check();
      return rt.pipeline({
        name,
        code,
        entryPoint: entry,
        ...(constants ? { constants } : {}),
        ...(declaration.labelEntryPoints ? { label: `${name}/${entry}` } : {}),
      });
    },
    pack(values) {
      check();
      if (fields.length === 0) throw new Error(`${label()}: declares no uniform block to pack`);
      const given = values as Readonly<Record<string, unknown>>;
      // Every dispatch packs a block, so the common case (no unknown field) allocates nothing here.
      for (const key in given) {
        if (Object.hasOwn(uniforms, key)) continue;
        const extra = Object.keys(given).filter((k) => !Object.hasOwn(uniforms, k));
        throw new Error(
          `${label()}: unknown uniform field${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`,
        );
      }
      // A uniform block's size rounds up to 16 bytes.
      const buffer = new ArrayBuffer(Math.ceil((fields.length * 4) / 16) * 16);
      const view = new DataView(buffer);
      for (let index = 0; index < fields.length; index++) {
        const [field, type] = fields[index] as [string, UniformType];
        const value = given[field];
        if (value === undefined) throw new Error(`${label()}: uniform field "${field}" is missing`);
        if (typeof value !== 'number') {
          throw new TypeError(`${label()}: uniform field "${field}" = ${String(value)} is not a number`);
        }
        if (type === 'u32') {
          if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
            throw new RangeError(`${label()}: uniform field "${field}" = ${value} is not a u32`);
          }
          view.setUint32(index * 4, value, true);
        } else {
          view.setFloat32(index * 4, value, true);
        }
      }
      return buffer;
    },
  };
  registry.push(kernel as unknown as Kernel);
  return kernel;
}
