import { describe, expect, it } from 'vitest';
import { declaredKernels } from './kernels/kernel';
import { readWgslShape } from './kernels/wgslUniforms';

// Every module that declares kernels, loaded so that each declaration registers itself. This test
// sits at the top of src/, above every part it loads, like src/layers.test.ts reading every file: the
// glob is how a test finds every declaration, not a dependency of the kernels on those parts.
const wrappers = import.meta.glob(
  [
    './kernels/*.ts',
    './sparse/*.ts',
    './prune/*.ts',
    './train/backward/*.ts',
    './train/optim/*.ts',
    './model/*.ts',
    '!**/*.test.ts',
  ],
  { eager: true },
);

describe('every declared kernel', () => {
  const kernels = declaredKernels();

  it('was found in the wrappers', () => {
    expect(Object.keys(wrappers).length).toBeGreaterThan(20);
    // Modules from each folder the glob reads; one missing means the glob missed its wrappers.
    const names = new Set(kernels.map((k) => k.name));
    for (const name of ['fista', 'matmul', 'nmMatmul', 'normBackward', 'adafactor', 'adapprox'])
      expect(names, name).toContain(name);
  });

  it('agrees with its WGSL: every entry point exists and reads exactly the declared uniform struct', () => {
    const problems: string[] = [];
    for (const kernel of kernels) {
      try {
        kernel.check();
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    expect(problems).toEqual([]);
  });

  it('shares a name only with declarations of the same module, since the runtime caches modules by name', () => {
    const codes = new Map<string, string>();
    const clashes = kernels.filter((k) => {
      const code = codes.get(k.name);
      codes.set(k.name, k.code);
      return code !== undefined && code !== k.code;
    });
    expect(clashes.map((k) => k.name)).toEqual([]);
  });

  it('declares every entry point of the modules it declares', () => {
    // activationBackward and ropeBackward compile the forward shader in front of their own, for its
    // functions and uniform block; the forward entry points they carry are run by kernels/.
    const carried = new Set([
      ...['map', 'map_inplace', 'gated', 'gated_inplace', 'bias_add'].map((e) => `activationBackward/${e}`),
      'ropeBackward/main',
    ]);
    // A module's entry points may be declared under several names (cholesky's, one per entry point).
    const undeclared: string[] = [];
    for (const [code, name] of new Map(kernels.map((k) => [k.code, k.name]))) {
      const declared = new Set(kernels.filter((k) => k.code === code).flatMap((k) => k.entryPoints));
      for (const entry of readWgslShape(code).entryPoints)
        if (!declared.has(entry) && !carried.has(`${name}/${entry}`)) undeclared.push(`${name}/${entry}`);
    }
    expect(undeclared).toEqual([]);
  });

  it('declares each entry point of a module once', () => {
    const seen = new Set<string>();
    const twice = kernels.flatMap((k) =>
      k.entryPoints.filter((e) => {
        const key = `${k.code}/${e}`;
        const repeated = seen.has(key);
        seen.add(key);
        return repeated;
      }),
    );
    expect(twice.length, twice.join(', ')).toBe(0);
  });
});
