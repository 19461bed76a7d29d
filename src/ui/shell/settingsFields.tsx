// The fields of a settings form (pruning, training) drawn from a table of specs, one per field of
// the form's state: the form says which fields stand where, and each field's label, control, limits
// and test id are written once, in its spec. Every value stays the text typed (or the flag), so the
// form's own check can word what is wrong under the field.

import type { ReactNode } from 'react';
import type { Bound } from '../../bounds/bound';
import { Choices, LabelledField } from './LabelledField';

/** A select over a fixed set of values. */
export interface ChoiceSpec<T extends string = string> {
  kind: 'choice';
  label: string;
  labels: Record<T, ReactNode>;
  testId: string;
  /** Values listed but not to be chosen now. */
  disabled?: readonly T[];
}

/** A number typed in a number input (the browser's arrows step it). */
export interface NumberSpec {
  kind: 'number';
  label: string;
  testId: string;
  /** The setting's range, from the job's bounds; the input's limits and step come from it. */
  bound: Bound;
  /** Shown as a percentage of the setting's value (sparsity). */
  percent?: boolean;
  placeholder?: string;
}

/**
 * A number input's min, max and step for a bound, so that the browser's arrows stay in the range
 * the job checks. An open end becomes the nearest the input can say (its closed end); the job's
 * own check, shown beside the field, refuses the end itself.
 */
export function inputLimits(b: Bound, scale = 1): { min: number; max?: number; step: number | 'any' } {
  return {
    min: b.min * scale,
    ...(Number.isFinite(b.max) ? { max: b.max * scale } : {}),
    step: b.whole ? 1 : 'any',
  };
}

/** Free text in one line (a seed). */
export interface TextSpec {
  kind: 'text';
  label: string;
  testId: string;
  inputMode?: 'numeric';
  className?: string;
}

/** A flag, as a checkbox with its label beside it. */
export interface CheckSpec {
  kind: 'check';
  label: string;
  testId: string;
  /** Said under it, after its hint. */
  note?: string;
}

/** The spec of each field of a form F drawn from a table: a flag is a check; text, anything else. */
export type FieldSpecs<F> = {
  [K in keyof F]?: F[K] extends boolean
    ? CheckSpec
    : F[K] extends string
      ? ChoiceSpec<F[K]> | NumberSpec | TextSpec
      : never;
};

/** What stands under a field besides its control: the form's hint and the field's error. */
export interface FieldNotes {
  note?: ReactNode;
  error?: string;
}

interface Binding<F> {
  form: F;
  setForm(patch: Partial<F>): void;
  specs: FieldSpecs<F>;
  notes(name: keyof F): FieldNotes;
}

/** The fields of a form by name, in the order named, each drawn from its spec. */
export function settingsFields<F extends object>({ form, setForm, specs, notes }: Binding<F>) {
  return (...names: (keyof F & string)[]) =>
    names.map((name) => {
      const spec = specs[name] as ChoiceSpec | NumberSpec | TextSpec | CheckSpec | undefined;
      if (!spec) throw new Error(`The settings field "${name}" has no spec in its form's table.`);
      const set = (value: string | boolean) => setForm({ [name]: value } as Partial<F>);
      const value = form[name];
      const { note, error } = notes(name);
      if (spec.kind === 'check') {
        return (
          <CheckField
            key={name}
            label={spec.label}
            checked={value === true}
            testId={spec.testId}
            onChange={set}
          >
            {note}
            {spec.note && <small className="muted">{spec.note}</small>}
          </CheckField>
        );
      }
      const text = String(value);
      if (spec.kind === 'choice') {
        return <ChoiceField key={name} {...spec} note={note} error={error} value={text} onChange={set} />;
      }
      return (
        <LabelledField key={name} label={spec.label} note={note} error={error}>
          {(control) =>
            spec.kind === 'number' ? (
              <input
                {...control}
                type="number"
                {...inputLimits(spec.bound, spec.percent ? 100 : 1)}
                placeholder={spec.placeholder}
                value={text}
                data-testid={spec.testId}
                onChange={(e) => set(e.target.value)}
              />
            ) : (
              <input
                {...control}
                type="text"
                inputMode={spec.inputMode}
                className={spec.className}
                value={text}
                data-testid={spec.testId}
                onChange={(e) => set(e.target.value)}
              />
            )
          }
        </LabelledField>
      );
    });
}

type ChoiceFieldProps<T extends string> = Omit<ChoiceSpec<T>, 'kind'> &
  FieldNotes & { value: T; onChange(value: T): void };

/** A labelled select, for a table's choice or a field whose choice changes more than itself. */
export function ChoiceField<T extends string>({ label, note, error, ...choices }: ChoiceFieldProps<T>) {
  return (
    <LabelledField label={label} note={note} error={error}>
      {(control) => <Choices {...control} {...choices} />}
    </LabelledField>
  );
}

interface CheckFieldProps {
  label: string;
  checked: boolean;
  disabled?: boolean;
  testId: string;
  onChange(checked: boolean): void;
  /** Under the box: its hint, a note. */
  children?: ReactNode;
}

export function CheckField({ label, checked, disabled, testId, onChange, children }: CheckFieldProps) {
  return (
    <div className="field">
      <label className="check">
        <input
          type="checkbox"
          checked={checked}
          disabled={disabled}
          data-testid={testId}
          onChange={(e) => onChange(e.target.checked)}
        />
        <span>{label}</span>
      </label>
      {children}
    </div>
  );
}
