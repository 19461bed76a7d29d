// One labelled form control with its note and its error under it, wired for screen readers: the
// control gets the label's id, is described by the note and the error, and is marked invalid with
// an error. The pruning and training settings forms both build their fields on it.

import { type ReactNode, useId } from 'react';

/** What a field passes to its control: its id, its note's id and whether it is wrong. */
export interface ControlProps {
  id: string;
  'aria-describedby': string;
  'aria-invalid': boolean;
}

export interface LabelledFieldProps {
  label: string;
  /** Shown under the control (a hint, the paper's value); nothing when absent. */
  note?: ReactNode;
  error?: string;
  /** Spans the form's full width. */
  wide?: boolean;
  children: (control: ControlProps) => ReactNode;
}

export function LabelledField({ label, note, error, wide = false, children }: LabelledFieldProps) {
  const id = useId();
  return (
    <div className={`field${wide ? ' field-wide' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-describedby': `${id}-hint`, 'aria-invalid': Boolean(error) })}
      <div id={`${id}-hint`}>
        {note}
        {error && <small className="field-error">{error}</small>}
      </div>
    </div>
  );
}

export interface ChoicesProps<T extends string> extends ControlProps {
  value: T;
  /** Every value with what it shows, in the order they are listed. */
  labels: Record<T, ReactNode>;
  onChange(value: T): void;
  testId: string;
  /** Values listed but not to be chosen now. */
  disabled?: readonly T[];
}

/** A select over a fixed set of values, for a LabelledField. */
export function Choices<T extends string>({
  value,
  labels,
  onChange,
  testId,
  disabled = [],
  ...control
}: ChoicesProps<T>) {
  return (
    <select {...control} value={value} data-testid={testId} onChange={(e) => onChange(e.target.value as T)}>
      {(Object.keys(labels) as T[]).map((v) => (
        <option key={v} value={v} disabled={disabled.includes(v)}>
          {labels[v]}
        </option>
      ))}
    </select>
  );
}
