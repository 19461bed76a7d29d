// The optimizer studio's settings: the model (a preset from scratch, or the loaded model), the text,
// the schedule and validation, and the arms side by side with a learning rate each. The paper-scale setup (docs/algorithms/adapprox.md §4)
// stands beside the fields; the Adapprox arms say where they rest on a reconstruction (docs/algorithms/adapprox.md §5),
// with the engine's own description of how each open piece is done.

import { type DragEvent, useId, useState } from 'react';
import { ARM_VARIANT_ORDER, ARM_VARIANTS } from '../../train/armVariants';
import { PRESETS, type PresetName } from '../../train/modelPresets';
import { TRAIN_BOUNDS } from '../../train/options';
import { type ChoiceSpec, type FieldSpecs, settingsFields } from '../shell/settingsFields';
import { TableHead } from '../shell/TableHead';
import { SPEC_HINTS, TEXT_LABELS, type TrainForm, type TrainFormErrors } from './trainSettings';
import { useTrainStudio } from './trainStore';

interface Props {
  form: TrainForm;
  errors: TrainFormErrors;
  disabled: boolean;
  /** The loaded model's name, when there is one to fine-tune. */
  loadedName: string | null;
  methods: Record<string, string> | null;
}

/** Every field but the arms drawn from a spec; the model's, which names the loaded model, at each render. */
const FIELDS: FieldSpecs<TrainForm> = {
  preset: {
    kind: 'choice',
    label: 'Size',
    labels: Object.fromEntries(
      (Object.keys(PRESETS) as PresetName[]).map((p) => [
        p,
        `${PRESETS[p].label}, context ${PRESETS[p].context}`,
      ]),
    ) as Record<PresetName, string>,
    testId: 'train-preset',
  },
  family: {
    kind: 'choice',
    label: 'Family',
    labels: { gpt2: 'GPT-2 (LayerNorm, learned positions, GELU)', llama: 'Llama (RMSNorm, RoPE, SwiGLU)' },
    testId: 'train-family',
  },
  text: { kind: 'choice', label: 'Text', labels: TEXT_LABELS, testId: 'train-text' },
  steps: { kind: 'number', label: 'Steps (per arm)', testId: 'train-steps', bound: TRAIN_BOUNDS.steps },
  batch: {
    kind: 'number',
    label: 'Batch (windows per step)',
    testId: 'train-batch',
    bound: TRAIN_BOUNDS.batch,
  },
  seqLen: { kind: 'number', label: 'Window (tokens)', testId: 'train-seq-len', bound: TRAIN_BOUNDS.seqLen },
  warmup: {
    kind: 'number',
    label: 'Warm-up (steps)',
    testId: 'train-warmup',
    bound: TRAIN_BOUNDS.warmupSteps,
  },
  decay: {
    kind: 'choice',
    label: 'Decay after warm-up',
    labels: {
      cosine: 'Cosine (to 10% of the peak)',
      linear: 'Linear (to 10% of the peak)',
      constant: 'Constant',
    },
    testId: 'train-decay',
  },
  validationEvery: {
    kind: 'number',
    label: 'Validate every (steps)',
    testId: 'train-val-every',
    bound: TRAIN_BOUNDS.validationEvery,
  },
  validationWindows: {
    kind: 'number',
    label: 'Validation windows',
    testId: 'train-val-windows',
    bound: TRAIN_BOUNDS.validationWindows,
  },
  seed: { kind: 'text', label: 'Seed', testId: 'train-seed', inputMode: 'numeric' },
};

export function TrainSettingsForm({ form, errors, disabled, loadedName, methods }: Props) {
  const setForm = useTrainStudio((s) => s.setForm);
  const setArm = useTrainStudio((s) => s.setArm);
  const model: ChoiceSpec<TrainForm['model']> = {
    kind: 'choice',
    label: 'Start from',
    labels: {
      preset: 'A preset, from scratch (tokenizer: tok512)',
      loaded: `Fine-tune the loaded model (${loadedName ?? 'none loaded'})`,
    },
    disabled: loadedName ? [] : ['loaded'],
    testId: 'train-model',
  };
  const fields = settingsFields({
    form,
    setForm,
    specs: { ...FIELDS, model },
    notes: (name) => ({
      note: SPEC_HINTS[name] && <small className="muted hint">{SPEC_HINTS[name]}</small>,
      error: errors[name],
    }),
  });

  return (
    <div className="prune-settings train-settings">
      <fieldset disabled={disabled}>
        <legend>Model</legend>
        {fields('model')}
        {form.model === 'preset' && fields('preset', 'family')}
      </fieldset>

      <fieldset disabled={disabled}>
        <legend>Data</legend>
        {fields('text')}
        {form.text === 'user' && <UserText form={form} error={errors.userText} />}
        <small className="muted">The last 10% of the tokens is held out for validation.</small>
      </fieldset>

      <fieldset disabled={disabled}>
        <legend>Steps and schedule</legend>
        {fields('steps', 'batch', 'seqLen', 'warmup', 'decay')}
      </fieldset>

      <fieldset disabled={disabled}>
        <legend>Validation and seed</legend>
        {fields('validationEvery', 'validationWindows', 'seed')}
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
