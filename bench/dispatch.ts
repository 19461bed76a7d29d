// What one dispatch costs the host, apart from the kernel: many dispatches of a kernel that does
// almost nothing (64 additions), recorded through the engine's rt.submit, against the recording
// the engine used before 2026-12-04 (one uniform buffer created, mapped, filled and freed per
// dispatch, and the pipeline asked for its bind group layout each time), kept here as the
// yardstick. Both arms record the same dispatches, 50 to a submit, into the same runtime, and run
// alternately in the same process, so their ratio is taken under the same conditions.

import type { GpuRuntime } from '../src/gpu/runtime';
import { defineKernel } from '../src/kernels/kernel';
import { median } from './measure';
import { alignedRows, num } from './table';

const addKernel = defineKernel({
  name: 'bench add',
  code: `struct Params { n: u32, step: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < params.n) { x[id.x] += params.step; }
}`,
  uniforms: { n: 'u32', step: 'f32' },
});

export interface DispatchRow {
  arm: 'engine (rt.submit)' | 'one uniform buffer per dispatch';
  dispatches: number;
  runs: number;
  /** Host time recording and submitting, per dispatch (µs), median over the runs. */
  hostUs: number;
  /** Host time plus waiting for the GPU to finish, per dispatch (µs), median over the runs. */
  wallUs: number;
  /** This arm's wall time over the engine's, from the same runs. */
  wallVsEngine: number;
}

/** Dispatches a submit holds in both arms (the training step averages about 50). */
const PER_SUBMIT = 50;
const ELEMENTS = 64;

export async function benchDispatch(rt: GpuRuntime, quick: boolean): Promise<DispatchRow[]> {
  const dispatches = quick ? 500 : 2000;
  const runs = quick ? 3 : 5;
  const x = await rt.upload('bench dispatch x', 'scratch', new Float32Array(ELEMENTS));
  try {
    const pipeline = await addKernel.pipeline(rt);
    const block = () => addKernel.pack({ n: ELEMENTS, step: 1 });

    const engine = async () => {
      const t0 = performance.now();
      for (let i = 0; i < dispatches; i++) {
        rt.submit([{ pipeline, uniforms: block(), storage: [x.buffer], workgroups: [1] }]);
        if ((i + 1) % PER_SUBMIT === 0) rt.flush();
      }
      rt.flush();
      const host = performance.now() - t0;
      await rt.sync();
      return { host, wall: performance.now() - t0 };
    };

    // The former rt.submit, inlined: a buffer per uniform block through the ledger (with its error
    // scopes), a layout per dispatch, a compute pass per dispatch, and a validation scope around each
    // submit's work, as before.
    let failure: string | null = null;
    const perBuffer = async () => {
      const device = rt.device;
      const t0 = performance.now();
      device.pushErrorScope('validation');
      let encoder = device.createCommandEncoder();
      const used: { destroy(): void }[] = [];
      for (let i = 0; i < dispatches; i++) {
        const data = block();
        const u = rt.ledger.createFast(
          {
            label: 'bench dispatch params',
            category: 'uniform',
            size: data.byteLength,
            usage: GPUBufferUsage.UNIFORM,
            mappedAtCreation: true,
          },
          (error) => {
            failure ??= error.message;
          },
        );
        new Uint8Array(u.buffer.getMappedRange()).set(new Uint8Array(data));
        u.buffer.unmap();
        const bindGroup = device.createBindGroup({
          layout: pipeline.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: u.buffer } },
            { binding: 1, resource: { buffer: x.buffer } },
          ],
        });
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(1);
        pass.end();
        used.push(u);
        if ((i + 1) % PER_SUBMIT === 0 || i === dispatches - 1) {
          device.queue.submit([encoder.finish()]);
          void device.popErrorScope().then((error) => {
            if (error) failure ??= error.message;
          });
          // As the runtime did: freed once the work that binds them is submitted.
          for (const b of used.splice(0)) b.destroy();
          if (i === dispatches - 1) break;
          device.pushErrorScope('validation');
          encoder = device.createCommandEncoder();
        }
      }
      const host = performance.now() - t0;
      await rt.sync();
      return { host, wall: performance.now() - t0 };
    };

    const arms = [
      { arm: 'engine (rt.submit)' as const, run: engine, host: [] as number[], wall: [] as number[] },
      {
        arm: 'one uniform buffer per dispatch' as const,
        run: perBuffer,
        host: [] as number[],
        wall: [] as number[],
      },
    ];
    // One untimed round warms both, then the arms alternate.
    for (let r = -1; r < runs; r++) {
      for (const a of arms) {
        const t = await a.run();
        if (r < 0) continue;
        a.host.push(t.host);
        a.wall.push(t.wall);
      }
    }
    if (failure) throw new Error(`dispatch bench, one uniform buffer per dispatch: ${failure}`);
    // Every dispatch added 1 to each element: a check that both arms ran all of theirs.
    const expected = (runs + 1) * 2 * dispatches;
    const got = (await rt.readF32(x.buffer, 0, 4))[0];
    if (got !== expected)
      throw new Error(`dispatch bench: x[0] = ${got} after ${expected} dispatches; some did not run`);
    const engineWall = median(arms[0]?.wall ?? []);
    return arms.map((a) => ({
      arm: a.arm,
      dispatches,
      runs,
      hostUs: (1000 * median(a.host)) / dispatches,
      wallUs: (1000 * median(a.wall)) / dispatches,
      wallVsEngine: median(a.wall) / engineWall,
    }));
  } finally {
    x.destroy();
  }
}

export function formatDispatch(rows: readonly DispatchRow[]): string {
  const header = [
    'recording',
    'dispatches',
    'runs',
    'host µs / dispatch',
    'wall µs / dispatch',
    'wall ÷ engine',
  ];
  const lines = rows.map((r) => [
    r.arm,
    String(r.dispatches),
    String(r.runs),
    num(r.hostUs),
    num(r.wallUs),
    num(r.wallVsEngine),
  ]);
  return [
    `Dispatch cost (a 64-element kernel, ${PER_SUBMIT} dispatches per submit)`,
    ...alignedRows(header, lines, (i) => i === 0),
    '',
    '* host: recording and submitting, without waiting; wall: until the queue has finished ' +
      '(onSubmittedWorkDone). Medians of the timed runs after one warm-up round; the arms alternate.',
    '* one uniform buffer per dispatch: how rt.submit recorded before 2026-12-04, kept as the yardstick.',
  ].join('\n');
}
