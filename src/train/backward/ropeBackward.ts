// Backward of the rotary position embedding (kernels/rope.ts), in place on the gradient of q or k:
// the rotation by the same angles, inverted. It takes the forward's arguments and validation, its
// windows and its uniforms unchanged (ropeDispatches), and swaps in the inverse rotation's pipeline,
// compiled from rope.wgsl and ropeBackward.wgsl together; so both conventions ('interleaved',
// 'half'), partial rotary dimensions and start positions behave exactly as in the forward.

import forwardShader from '../../../shaders/kernels/rope.wgsl?raw';
import backwardShader from '../../../shaders/train/backward/ropeBackward.wgsl?raw';
import type { GpuRuntime } from '../../gpu/runtime';
import { type RopeArgs, ropeDispatches } from '../../kernels/rope';

const shader = `${forwardShader}\n${backwardShader}`;

/** x ← R(−θ)·x: the gradient of the input of rope(), given the gradient of its output in x. */
export async function ropeBackward(rt: GpuRuntime, args: RopeArgs): Promise<void> {
  const forward = await ropeDispatches(rt, args);
  if (forward.length === 0) return;
  const pipeline = await rt.pipeline({
    name: 'ropeBackward',
    code: shader,
    entryPoint: 'rope_backward',
    constants: { HALF: Number(args.convention === 'half') },
  });
  rt.submit(forward.map((d) => ({ ...d, pipeline })));
}
