// The optimizer studio's settings: the model (a preset from scratch, or the loaded model), the text,
// the schedule and validation, and the arms side by side with a learning rate each. The paper-scale setup (docs/algorithms/adapprox.md §4)
// stands beside the fields; the Adapprox arms say where they rest on a reconstruction (docs/algorithms/adapprox.md §5),
// with the engine's own description of how each open piece is done.

import { type DragEvent, useId, useState } from 'react';
import { ARM_VARIANT_ORDER, ARM_VARIANTS } from '../../train/armVariants';
import { PRESETS, type PresetFamily, type PresetName } from '../../train/modelPresets';
import type { Decay } from '../../train/schedule';
import { Choices, LabelledField, type LabelledFieldProps } from '../shell/LabelledField';
import { TableHead } from '../shell/TableHead';
import {
  SPEC_HINTS,
  TEXT_LABELS,
  type TrainField,
  type TrainForm,
  type TrainFormErrors,
} from './trainSettings';
import { useTrainStudio } from './trainStore';

interface Props {
  form: TrainForm;
  errors: TrainFormErrors;
  disabled: boolean;
  /** The loaded model's name, when there is one to fine-tune. */
  loadedName: string | null;
  methods: Record<string, string> | null;
}

const PRESET_CHOICES = Object.fromEntries(
  (Object.keys(PRESETS) as PresetName[]).map((p) => [
    p,
    `${PRESETS[p].label}, context ${PRESETS[p].context}`,
  ]),
) as Record<PresetName, string>;
const FAMILY_CHOICES: Record<PresetFamily, string> = {
  gpt2: 'GPT-2 (LayerNorm, learned positions, GELU)',
  llama: 'Llama (RMSNorm, RoPE, SwiGLU)',
};
const DECAY_CHOICES: Record<Decay, string> = {
  cosine: 'Cosine (to 10% of the peak)',
  linear: 'Linear (to 10% of the peak)',
  constant: 'Constant',
};

export function TrainSettingsForm({ form, errors, disabled, loadedName, methods }: Props) {
  const setForm = useTrainStudio((s) => s.setForm);
  const setArm = useTrainStudio((s) => s.setArm);
  const field = (name: TrainField) => ({ hint: SPEC_HINTS[name], error: errors[name] });

  return (
    <div className="prune-settings train-settings">
      <fieldset disabled={disabled}>
        <legend>Model</legend>
        <Field label="Start from" {...field('model')}>
          {(a) => (
            <Choices
              {...a}
              value={form.model}
              labels={{
                preset: 'A preset, from scratch (tokenizer: tok512)',
                loaded: `Fine-tune the loaded model (${loadedName ?? 'none loaded'})`,
              }}
              disabled={loadedName ? [] : ['loaded']}
              testId="train-model"
              onChange={(model) => setForm({ model })}
            />
          )}
        </Field>
        {form.model === 'preset' && (
          <>
            <Field label="Size" {...field('preset')}>
              {(a) => (
                <Choices
                  {...a}
                  value={form.preset}
                  labels={PRESET_CHOICES}
                  testId="train-preset"
                  onChange={(preset) => setForm({ preset })}
                />
              )}
            </Field>
            <Field label="Family" {...field('family')}>
              {(a) => (
                <Choices
                  {...a}
                  value={form.family}
                  labels={FAMILY_CHOICES}
                  testId="train-family"
                  onChange={(family) => setForm({ family })}
                />
              )}
            </Field>
          </>
        )}
      </fieldset>

      <fieldset disabled={disabled}>
        <legend>Data</legend>
        <Field label="Text" {...field('text')}>
          {(a) => (
            <Choices
              {...a}
              value={form.text}
              labels={TEXT_LABELS}
              testId="train-text"
              onChange={(text) => setForm({ text })}
            />
          )}
        </Field>
        {form.text === 'user' && <UserText form={form} error={errors.userText} />}
        <small className="muted">The last 10% of the tokens is held out for validation.</small>
      </fieldset>

      <fieldset disabled={disabled}>
        <legend>Steps and schedule</legend>
        <NumberField
          label="Steps (per arm)"
          name="steps"
          form={form}
          testId="train-steps"
          {...field('steps')}
        />
        <NumberField
          label="Batch (windows per step)"
          name="batch"
          form={form}
          testId="train-batch"
          {...field('batch')}
        />
        <NumberField
          label="Window (tokens)"
          name="seqLen"
          form={form}
          testId="train-seq-len"
          {...field('seqLen')}
        />
        <NumberField
          label="Warm-up (steps)"
          name="warmup"
          form={form}
          testId="train-warmup"
          {...field('warmup')}
        />
        <Field label="Decay after warm-up" {...field('decay')}>
          {(a) => (
            <Choices
              {...a}
              value={form.decay}
              labels={DECAY_CHOICES}
              testId="train-decay"
              onChange={(decay) => setForm({ decay })}
            />
          )}
        </Field>
      </fieldset>

      <fieldset disabled={disabled}>
        <legend>Validation and seed</legend>
        <NumberField
          label="Validate every (steps)"
          name="validationEvery"
          form={form}
          testId="train-val-every"
          {...field('validationEvery')}
        />
        <NumberField
          label="Validation windows"
          name="validationWindows"
          form={form}
          testId="train-val-windows"
          {...field('validationWindows')}
        />
        <Field label="Seed" {...field('seed')}>
          {(a) => (
            <input
              {...a}
              type="text"
              inputMode="numeric"
              value={form.seed}
              data-testid="train-seed"
              onChange={(e) => setForm({ seed: e.target.value })}
            />
          )}
        </Field>
        <small className="muted">
          The seed sets the batch order and a preset’s initial weights: a run replays exactly.
        </small>
      </fieldset>

      <fieldset disabled={disabled} className="train-arms">
        <legend>Optimizers (arms), side by side on the same batches</legend>
        <small className="muted hint">{SPEC_HINTS.arms}</small>
        <table className="table arm-choices">
          <TableHead columns={['Arm', 'Peak learning rate', 'What it is']} />
          <tbody>
            {ARM_VARIANT_ORDER.map((v) => {
              const info = ARM_VARIANTS[v];
              const arm = form.arms[v];
              const error = errors[`lr-${v}`];
              return (
                <tr key={v} data-testid="train-arm-row" data-variant={v}>
                  <td>
                    <label className="check">
                      <input
                        type="checkbox"
                        checked={arm.on}
                        data-testid={`train-arm-${v}`}
                        onChange={(e) => setArm(v, { on: e.target.checked })}
                      />
                      {info.label}
                    </label>
                  </td>
                  <td>
                    <input
                      type="text"
                      inputMode="decimal"
                      className="lr-input"
                      aria-label={`Peak learning rate of ${info.label}`}
                      aria-invalid={Boolean(error)}
                      disabled={!arm.on}
                      value={arm.lr}
                      data-testid={`train-lr-${v}`}
                      onChange={(e) => setArm(v, { lr: e.target.value })}
                    />
                    {error && (
                      <small className="field-error" data-testid={`train-lr-error-${v}`}>
                        {error}
                      </small>
                    )}
                  </td>
                  <td className="small">
                    {info.note}
                    {info.reconstruction && (
                      <span className="reconstruction" title={reconstructionTitle(methods)}>
                        <span className="badge badge-warn">reconstruction</span> {info.reconstruction}
                      </span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {errors.arms && <small className="field-error">{errors.arms}</small>}
        {methods && (
          <details className="details small" data-testid="train-methods">
            <summary>
              How our Adapprox does what the paper leaves open (docs/algorithms/adapprox.md §5)
            </summary>
            <ul>
              {Object.entries(methods).map(([what, how]) => (
                <li key={what}>
                  <strong>{what}</strong>: {how}
                  {/reconstruction/.test(how) && <span className="badge badge-warn">reconstruction</span>}
                </li>
              ))}
            </ul>
          </details>
        )}
      </fieldset>
    </div>
  );
}

function reconstructionTitle(methods: Record<string, string> | null): string {
  return methods
    ? Object.entries(methods)
        .map(([what, how]) => `${what}: ${how}`)
        .join('\n')
    : 'Not in the paper: our reconstruction (docs/algorithms/adapprox.md §5).';
}

/** A pasted text, or a .txt dropped on the box or picked. */
function UserText({ form, error }: { form: TrainForm; error?: string }) {
  const setForm = useTrainStudio((s) => s.setForm);
  const [dragging, setDragging] = useState(false);
  const [readError, setReadError] = useState<string | null>(null);
  const id = useId();

  const readFile = async (file: File | undefined) => {
    if (!file) return;
    setReadError(null);
    if (file.type && !file.type.startsWith('text/')) {
      setReadError(`${file.name} is not a text file (${file.type}); drop a UTF-8 .txt.`);
      return;
    }
    try {
      setForm({ userText: await file.text(), userLabel: file.name });
    } catch (e) {
      setReadError(`${file.name} could not be read: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    void readFile(e.dataTransfer.files[0]);
  };

  return (
    <div className="field">
      <label htmlFor={id}>Your text ({form.userLabel})</label>
      <textarea
        id={id}
        rows={5}
        className={dragging ? 'dragging' : undefined}
        aria-invalid={Boolean(error)}
        placeholder="Paste a text, or drop a .txt file here"
        value={form.userText}
        data-testid="train-user-text"
        onChange={(e) => setForm({ userText: e.target.value, userLabel: 'pasted text' })}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      />
      <input
        type="file"
        accept=".txt,text/plain"
        aria-label="Choose a .txt file to train on"
        data-testid="train-user-file"
        onChange={(e) => void readFile(e.target.files?.[0])}
      />
      <small className="muted">{form.userText.length.toLocaleString('en-US')} characters</small>
      {(error || readError) && <small className="field-error">{readError ?? error}</small>}
    </div>
  );
}

function Field({ hint, ...rest }: Omit<LabelledFieldProps, 'note'> & { hint?: string }) {
  return <LabelledField {...rest} note={hint && <small className="muted hint">{hint}</small>} />;
}

type NumericField = 'steps' | 'batch' | 'seqLen' | 'warmup' | 'validationEvery' | 'validationWindows';

function NumberField({
  label,
  name,
  form,
  testId,
  hint,
  error,
}: {
  label: string;
  name: NumericField;
  form: TrainForm;
  testId: string;
  hint?: string;
  error?: string;
}) {
  const setForm = useTrainStudio((s) => s.setForm);
  return (
    <Field label={label} hint={hint} error={error}>
      {(a) => (
        <input
          {...a}
          type="number"
          min={name === 'warmup' ? 0 : 1}
          step={1}
          value={form[name]}
          data-testid={testId}
          onChange={(e) => setForm({ [name]: e.target.value })}
        />
      )}
    </Field>
  );
}
