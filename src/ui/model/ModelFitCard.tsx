// Will the chosen model run here? Answered from its headers and the device's limits before any
// weight moves: all weights resident, one block at a time, or not at all, with the bytes behind
// the verdict. The budget is the person's to set, because WebGPU never reports GPU memory.

import { useEffect, useState } from 'react';
import type { FitReport } from '../../model/fit';
import type { FitLimits, FitOptions } from '../../worker/api';
import { formatBytes } from '../shell/format';
import { GIB, useModelStudio } from './modelStore';

const VERDICT_CLASS: Record<FitReport['verdict'], string> = {
  fits: 'badge-yes',
  'fits block by block': 'badge-warn',
  'does not fit': 'badge-no',
};

export function ModelFitCard({
  fit,
  options,
  limits,
  layers,
}: {
  fit: FitReport | null;
  options: FitOptions | null;
  limits: FitLimits | null;
  layers: number;
}) {
  return (
    <div className="fit-card" data-testid="model-fit" data-verdict={fit?.verdict ?? ''}>
      <h3>Fit on this GPU</h3>
      {fit && options && limits ? (
        <>
          <p className="fit-verdict">
            <span className={`badge ${VERDICT_CLASS[fit.verdict]}`}>{fit.verdict}</span>
            <span className="muted small"> for windows of {options.seqLen} tokens</span>
          </p>
          <ul className="fit-reasons">
            {fit.reasons.map((reason) => (
              <li key={reason}>{reason}</li>
            ))}
          </ul>
          <table className="table fit-table">
            <tbody>
              <FitRow label="All weights (f32 on the GPU)" bytes={fit.weightBytes} />
              <FitRow label="Embeddings, final norm, head" bytes={fit.sharedBytes} />
              <FitRow label={`Bytes per block (largest of ${layers})`} bytes={fit.largestBlockBytes} />
              <FitRow label="Activations of one window" bytes={fit.activationBytes} />
              <FitRow
                label="Peak working set, all blocks resident"
                bytes={fit.peakResidentBytes}
                over={fit.peakResidentBytes > options.budgetBytes}
              />
              <FitRow
                label="Peak working set, one block at a time"
                bytes={fit.peakStreamingBytes}
                over={fit.peakStreamingBytes > options.budgetBytes}
              />
              <tr className={fit.largestTensor.bytes > limits.maxBufferSize ? 'over' : undefined}>
                <th scope="row">
                  Largest tensor <code>{fit.largestTensor.name}</code> vs <code>maxBufferSize</code>
                </th>
                <td className="num">
                  {formatBytes(fit.largestTensor.bytes)} / {formatBytes(limits.maxBufferSize)}
                </td>
              </tr>
            </tbody>
          </table>
        </>
      ) : (
        <p className="muted">The sequence length is outside this model's context; choose a shorter one.</p>
      )}
      <BudgetField />
    </div>
  );
}

function FitRow({ label, bytes, over = false }: { label: string; bytes: number; over?: boolean }) {
  return (
    <tr className={over ? 'over' : undefined}>
      <th scope="row">{label}</th>
      <td className="num" title={`${bytes.toLocaleString('en-US')} bytes`}>
        {formatBytes(bytes)}
      </td>
    </tr>
  );
}

function BudgetField() {
  const budgetBytes = useModelStudio((s) => s.budgetBytes);
  const setBudget = useModelStudio((s) => s.setBudget);
  const [text, setText] = useState(String(budgetBytes / GIB));
  useEffect(() => setText(String(Number((budgetBytes / GIB).toFixed(3)))), [budgetBytes]);
  const value = Number(text);
  const valid = text.trim() !== '' && Number.isFinite(value) && value > 0;
  return (
    <div className="budget">
      <label>
        Memory budget
        <input
          type="number"
          min={0.05}
          step={0.5}
          value={text}
          data-testid="model-budget"
          aria-invalid={!valid}
          onChange={(event) => {
            setText(event.target.value);
            const gib = Number(event.target.value);
            if (event.target.value.trim() !== '' && gib > 0) setBudget(Math.round(gib * GIB));
          }}
        />
        GiB
      </label>
      <p className="muted small">
        WebGPU does not tell a page how much memory the GPU has, so this is your setting: what this GPU can
        spare for the model. Buffer limits come from the device itself.
      </p>
    </div>
  );
}
