// Backward of the rotary position embedding (kernels/rope.ts), in place on the gradient of q or k:
// the rotation by the same angles, inverted. It takes the forward's arguments and validation, its
// windows and its uniforms unchanged (ropeDispatches), and swaps in the inverse rotation's pipeline,
// compiled from rope.wgsl and ropeBackward.wgsl together; so both conventions ('interleaved',
// 'half'), partial rotary dimensions and start positions behave exactly as in the forward.

import forwardShader from '../../../shaders/kernels/rope.wgsl?raw';
import backwardShader from '../../../shaders/train/backward/ropeBackward.wgsl?raw';
import type { GpuRuntime } from '../../gpu/runtime';
import { defineKernel } from '../../kernels/kernel';
import { type RopeArgs, ropeDispatches, ropeKernel } from '../../kernels/rope';

// The inverse rotation reads the forward's uniform block, packed by ropeDispatches.
const ropeBackwardKernel = defineKernel({
  name: 'ropeBackward',
  code: `${forwardShader}\n${backwardShader}`,
  entryPoints: ['rope_backward'],
  uniforms: ropeKernel.uniforms,
});

/** x ← R(−θ)·x: the gradient of the input of rope(), given the gradient of its output in x. */
export async function ropeBackward(rt: GpuRuntime, args: RopeArgs): Promise<void> {
  const forward = await ropeDispatches(rt, args);
  if (forward.length === 0) return;
  const pipeline = await ropeBackwardKernel.pipeline(rt, 'rope_backward', {
    HALF: Number(args.convention === 'half'),
  });
  rt.submit(forward.map((d) => ({ ...d, pipeline })));
}
