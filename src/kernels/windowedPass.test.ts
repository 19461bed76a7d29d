import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GpuRuntime } from '../gpu/runtime';
import { type PassOperand, type PassWindow, windowedPassDispatches } from './windowedPass';

// The windowing alone, on a runtime that only has limits: every kernel test that runs under 2 KiB
// bindings (elementwise, FISTA, masks, the optimizers) checks the numbers these windows produce.
const runtime = (binding: number, align: number, groups: number) =>
  ({
    limits: {
      maxStorageBufferBindingSize: binding,
      minStorageBufferOffsetAlignment: align,
      maxComputeWorkgroupsPerDimension: groups,
    },
  }) as unknown as GpuRuntime;

const buffer = (elements: number, label = 'v') => ({ size: 4 * elements, label }) as GPUBuffer;

describe('windowedPassDispatches', () => {
  it('covers the range once in windows that fit every binding, in whole blocks, folding the grid', () => {
    fc.assert(
      fc.property(
        fc.record({
          count: fc.integer({ min: 1, max: 2000 }),
          binding: fc.integer({ min: 1024, max: 16384 }),
          align: fc.constantFrom(16, 64, 256),
          groups: fc.integer({ min: 1, max: 8 }),
          block: fc.constantFrom(1, 7, 64, 256),
          stride: fc.integer({ min: 1, max: 9 }),
          offsetA: fc.integer({ min: 0, max: 300 }),
          offsetB: fc.integer({ min: 0, max: 300 }),
        }),
        (c) => {
          const rt = runtime(c.binding, c.align, c.groups);
          const a: PassOperand = {
            buffer: buffer(c.offsetA + (c.count - 1) * c.stride + 1),
            offset: c.offsetA,
            stride: c.stride,
          };
          const b: PassOperand = { buffer: buffer(c.offsetB + c.count), offset: c.offsetB };
          const slots: PassOperand = { buffer: buffer(10), offset: 3, slots: 4 };
          const seen: PassWindow[] = [];
          const partials = buffer(1, 'partials');
          const dispatches = windowedPassDispatches(rt, {
            name: 'test',
            pipeline: {} as GPUComputePipeline,
            count: c.count,
            operands: [a, b, slots],
            block: c.block,
            extra: [partials],
            uniforms: (w) => {
              seen.push(w);
              return new ArrayBuffer(16);
            },
          });
          expect(dispatches).toHaveLength(seen.length);
          let next = 0;
          seen.forEach((w, i) => {
            expect(w.start).toBe(next);
            next += w.count;
            if (i < seen.length - 1 && w.count >= c.block) expect(w.count % c.block).toBe(0);
            const d = dispatches[i];
            if (!d) throw new Error('a window without a dispatch');
            const [x, y = 1] = d.workgroups;
            expect(x).toBeLessThanOrEqual(c.groups);
            expect(y).toBeLessThanOrEqual(c.groups);
            expect(x * y).toBeGreaterThanOrEqual(Math.ceil(w.count / c.block));
            expect(w.blocks).toBe(Math.ceil(w.count / c.block));
            const [ba, bb, bs, extra] = d.storage as { buffer: GPUBuffer; offset: number; size: number }[];
            expect(extra).toBe(partials);
            for (const [bound, first, elements] of [
              [ba, c.offsetA + w.start * c.stride, (w.count - 1) * c.stride + 1],
              [bb, c.offsetB + w.start, w.count],
              [bs, 3, 4],
            ] as const) {
              if (!bound) throw new Error('an operand without a binding');
              expect(bound.offset % c.align).toBe(0);
              expect(bound.size).toBeLessThanOrEqual(c.binding);
              const base = w.bases[[ba, bb, bs].indexOf(bound)] as number;
              expect(bound.offset / 4 + base).toBe(first);
              expect(bound.size / 4).toBeGreaterThanOrEqual(base + elements);
            }
          });
          expect(next).toBe(c.count);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('names the pass and the buffer an operand overruns, and runs nothing for no elements', () => {
    const rt = runtime(4096, 256, 65535);
    const pass = (operands: PassOperand[], count: number) =>
      windowedPassDispatches(rt, {
        name: 'axpy',
        pipeline: {} as GPUComputePipeline,
        count,
        operands,
        block: 256,
        uniforms: () => new ArrayBuffer(16),
      });
    expect(() => pass([{ buffer: buffer(10, 'y'), offset: 4 }], 7)).toThrow(
      'axpy: 7 elements from 4 overrun "y" (40 bytes)',
    );
    expect(() => pass([{ buffer: buffer(10, 'diag'), stride: 3 }], 5)).toThrow(/overrun "diag"/);
    expect(() => pass([{ buffer: buffer(10) }], -1)).toThrow('axpy: length -1 is invalid');
    expect(pass([{ buffer: buffer(10) }], 0)).toEqual([]);
  });
});
