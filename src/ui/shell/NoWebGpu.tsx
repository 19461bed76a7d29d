// Shown instead of the studio when no GPU device can be had. A person who lands here needs to know
// what failed, whether it is their browser's setting or our bug, and what to change.

import type { EngineFailure } from '../../worker/api';
import { useStudio } from './store';

export function NoWebGpu({ failure }: { failure: EngineFailure }) {
  const retry = useStudio((s) => s.loadCapability);
  const isSetup = failure.kind === 'unavailable';
  return (
    <section className="card notice" data-testid="no-webgpu" role="alert" aria-labelledby="no-webgpu-title">
      <h2 id="no-webgpu-title">{isSetup ? 'WebGPU is not available' : 'The GPU could not be started'}</h2>
      <p>
        Compression Studio does all of its work on your GPU through WebGPU, inside this tab. This time it
        could not get a GPU device, so nothing can run yet.
      </p>
      <dl className="failure">
        <dt>What happened</dt>
        <dd className="mono">{failure.message}</dd>
        <dt>What to do</dt>
        <dd>{failure.advice}</dd>
      </dl>
      {isSetup && <EnableWebGpu />}
      <button type="button" className="button" onClick={() => void retry()}>
        Try again
      </button>
    </section>
  );
}

function EnableWebGpu() {
  return (
    <div className="enable-steps">
      <h3>How to turn WebGPU on</h3>
      <ul>
        <li>
          <strong>Chrome or Edge 113+ on Windows, macOS or ChromeOS:</strong> on by default. If it is off,
          turn on <em>Use graphics acceleration when available</em> in <code>chrome://settings/system</code>,
          restart, and check that <code>chrome://gpu</code> lists WebGPU as hardware accelerated.
        </li>
        <li>
          <strong>Chrome on Linux:</strong> enable <code>chrome://flags/#enable-unsafe-webgpu</code>, or start
          it with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code>.
        </li>
        <li>
          <strong>Chrome 121+ on Android 12+:</strong> on by default on most recent phones.
        </li>
        <li>
          <strong>Safari 26+</strong> on macOS, iOS and iPadOS: on by default. In older versions, enable
          WebGPU under Develop → Feature Flags.
        </li>
        <li>
          <strong>Firefox 141+ on Windows:</strong> on by default. Elsewhere, try Firefox Nightly with{' '}
          <code>dom.webgpu.enabled</code> set in <code>about:config</code>.
        </li>
        <li>
          The page must come from <code>https://</code> or <code>http://localhost</code>: browsers only offer
          WebGPU to secure pages.
        </li>
      </ul>
    </div>
  );
}
