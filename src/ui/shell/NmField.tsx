// N and M typed side by side ("2 : 4"), as the pruning settings and the microscope's N:M view both
// take them: two whole numbers, N kept of every M, each marked when it is wrong.

import { Fragment, type ReactNode } from 'react';
import { PRUNE_BOUNDS } from '../../prune/options';
import { inputLimits } from './settingsFields';

export interface NmText {
  n: string;
  m: string;
}

interface NmFieldProps {
  nm: NmText;
  onChange(nm: NmText): void;
  /** What a screen reader calls N and M. */
  labels: [n: string, m: string];
  invalid: [n: boolean, m: boolean];
  /** Names the inputs `${testId}-n` and `${testId}-m`. */
  testId?: string;
  /** Beside the inputs (the pruning settings' presets). */
  presets?: ReactNode;
  /** Under the inputs (a note, the error). */
  children?: ReactNode;
}

/** N and M in their ranges, as the browser's arrows step them; the owner checks N < M. */
const LIMITS = { n: inputLimits(PRUNE_BOUNDS.n), m: inputLimits(PRUNE_BOUNDS.m) } as const;

export function NmField({ nm, onChange, labels, invalid, testId, presets, children }: NmFieldProps) {
  return (
    <fieldset className="field plain">
      <legend>N:M</legend>
      <div className="nm-inputs">
        {(['n', 'm'] as const).map((key, i) => (
          <Fragment key={key}>
            {i > 0 && <span aria-hidden="true">:</span>}
            <input
              type="number"
              {...LIMITS[key]}
              aria-label={labels[i]}
              aria-invalid={invalid[i]}
              value={nm[key]}
              data-testid={testId && `${testId}-${key}`}
              onChange={(e) => onChange({ ...nm, [key]: e.target.value })}
            />
          </Fragment>
        ))}
        {presets}
      </div>
      {children}
    </fieldset>
  );
}
