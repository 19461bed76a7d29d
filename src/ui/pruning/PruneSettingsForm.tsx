// The pruning settings: method and pattern, calibration, FISTAPruner's and SparseGPT's knobs, and
// the perplexity measured before and after. Beside each field, the paper's value, and ours where
// it differs with the reason. A wrong field says what it needs right under it; Run stays off.

import { EVAL_TEXTS, type EvalText } from '../../model/evaluate';
import { CALIBRATION_TEXTS } from '../../prune/calibration';
import type { PrunedStorageResult } from '../../worker/api';
import { formatBytes } from '../shell/format';
import { Choices, LabelledField, type LabelledFieldProps } from '../shell/LabelledField';
import {
  devicesUnavailable,
  type FieldHint,
  type FormErrors,
  type FormField,
  METHOD_LABELS,
  NM_PRESETS,
  type PruneForm,
  usesSparseGpt,
  WARM_START_LABELS,
  withMethod,
} from './pruneSettings';
import { usePruneStudio } from './pruneStore';

interface Props {
  form: PruneForm;
  hints: Partial<Record<FormField, FieldHint>>;
  errors: FormErrors;
  disabled: boolean;
  /** The most devices this machine is offered (pruneSettings.ts devicesOffered). */
  maxDevices: number;
  /** Whether pruned matrices can be kept on disk here; null while the worker has not said. */
  storage: PrunedStorageResult | null;
}

const PATTERN_CHOICES: Record<PruneForm['pattern'], string> = {
  unstructured: 'Unstructured',
  nm: 'N:M (semi-structured)',
};
const BLOCK_INPUT_CHOICES: Record<PruneForm['blockInputs'], string> = {
  dense: "Dense model's (blocks independent)",
  pruned: "Pruned model's (sequential)",
};
const CALIBRATION_CHOICES: Record<PruneForm['calibration'], string> = {
  c4: CALIBRATION_TEXTS.c4.label,
  tinystories: CALIBRATION_TEXTS.tinystories.label,
  text: 'Paste a text',
};
const THRESHOLD_GROUP_CHOICES: Record<PruneForm['thresholdGroup'], string> = {
  row: 'Per row',
  matrix: 'Whole matrix',
};
const EVAL_TEXT_CHOICES: Record<EvalText, string> = {
  wikitext2: EVAL_TEXTS.wikitext2.label,
  tinystories: EVAL_TEXTS.tinystories.label,
};

export function PruneSettingsForm({ form, hints, errors, disabled, maxDevices, storage }: Props) {
  const setForm = usePruneStudio((s) => s.setForm);
  const field = (name: FormField) => ({ hint: hints[name], error: errors[name] });
  const isFista = form.method === 'fista';

  return (
    <div className="prune-settings">
      <fieldset disabled={disabled}>
        <legend>Method and pattern</legend>
        <Field label="Method" {...field('method')}>
          {(a) => (
            <Choices
              {...a}
              value={form.method}
              labels={METHOD_LABELS}
              testId="prune-method"
              onChange={(method) => setForm(withMethod(form, method))}
            />
          )}
        </Field>
        <Field label="Pattern" {...field('pattern')}>
          {(a) => (
            <Choices
              {...a}
              value={form.pattern}
              labels={PATTERN_CHOICES}
              testId="prune-pattern"
              onChange={(pattern) => setForm({ pattern })}
            />
          )}
        </Field>
        {form.pattern === 'unstructured' ? (
          <Field label="Sparsity (%)" {...field('sparsity')}>
            {(a) => (
              <input
                {...a}
                type="number"
                min={1}
                max={99}
                step="any"
                value={form.sparsity}
                data-testid="prune-sparsity"
                onChange={(e) => setForm({ sparsity: e.target.value })}
              />
            )}
          </Field>
        ) : (
          <fieldset className="field plain">
            <legend>N:M</legend>
            <div className="nm-inputs">
              <input
                type="number"
                min={1}
                step={1}
                aria-label="N, kept of every M"
                aria-invalid={Boolean(errors.n)}
                value={form.n}
                data-testid="prune-n"
                onChange={(e) => setForm({ n: e.target.value })}
              />
              <span aria-hidden="true">:</span>
              <input
                type="number"
                min={2}
                step={1}
                aria-label="M, group width"
                aria-invalid={Boolean(errors.m)}
                value={form.m}
                data-testid="prune-m"
                onChange={(e) => setForm({ m: e.target.value })}
              />
              {NM_PRESETS.map((p) => (
                <button
                  key={`${p.n}:${p.m}`}
                  type="button"
                  className={`button button-small${form.n === String(p.n) && form.m === String(p.m) ? ' selected' : ''}`}
                  aria-pressed={form.n === String(p.n) && form.m === String(p.m)}
                  data-testid={`prune-preset-${p.n}-${p.m}`}
                  onClick={() => setForm({ n: String(p.n), m: String(p.m) })}
                >
                  {p.n}:{p.m}
                </button>
              ))}
            </div>
            <small className="muted">
              N weights kept in every M consecutive inputs of a row; 2:4 runs on sparse tensor cores.
            </small>
            {(errors.n || errors.m) && <small className="field-error">{errors.n ?? errors.m}</small>}
          </fieldset>
        )}
        <Field label="Block inputs" {...field('blockInputs')}>
          {(a) => (
            <Choices
              {...a}
              value={form.blockInputs}
              labels={BLOCK_INPUT_CHOICES}
              testId="prune-block-inputs"
              onChange={(blockInputs) => setForm({ blockInputs })}
            />
          )}
        </Field>
        <DevicesField form={form} hint={hints.devices} error={errors.devices} maxDevices={maxDevices} />
        <PrunedOnDiskField form={form} storage={storage} />
      </fieldset>

      <fieldset disabled={disabled}>
        <legend>Calibration</legend>
        <Field label="Text" {...field('calibration')}>
          {(a) => (
            <Choices
              {...a}
              value={form.calibration}
              labels={CALIBRATION_CHOICES}
              testId="prune-calibration"
              onChange={(calibration) => setForm({ calibration })}
            />
          )}
        </Field>
        {form.calibration === 'text' && (
          <Field label="Calibration text" {...field('pastedText')} wide>
            {(a) => (
              <textarea
                {...a}
                rows={4}
                value={form.pastedText}
                placeholder="Text the model should keep doing well on…"
                data-testid="prune-text"
                onChange={(e) => setForm({ pastedText: e.target.value })}
              />
            )}
          </Field>
        )}
        <NumberField label="Windows" name="windows" form={form} {...field('windows')} min={1} />
        <NumberField label="Window length (tokens)" name="seqLen" form={form} {...field('seqLen')} min={2} />
        <Field label="Seed" {...field('seed')}>
          {(a) => (
            <input
              {...a}
              className="mono"
              value={form.seed}
              data-testid="prune-seed"
              onChange={(e) => setForm({ seed: e.target.value })}
            />
          )}
        </Field>
        {form.method === 'magnitude' && (
          <p className="muted small field-note">
            Magnitude pruning reads no activations: the windows only measure its reconstruction error.
          </p>
        )}
      </fieldset>

      {isFista && (
        <fieldset disabled={disabled}>
          <legend>FISTAPruner</legend>
          <Field label="Warm start" {...field('warmStart')}>
            {(a) => (
              <Choices
                {...a}
                value={form.warmStart}
                labels={WARM_START_LABELS}
                testId="prune-warm-start"
                onChange={(warmStart) => setForm({ warmStart })}
              />
            )}
          </Field>
          <NumberField
            label="FISTA iterations K"
            name="iterations"
            form={form}
            {...field('iterations')}
            min={1}
          />
          <NumberField label="λ rounds T" name="rounds" form={form} {...field('rounds')} min={1} />
          <NumberField
            label="ξ (E_round / E_total)"
            name="xi"
            form={form}
            {...field('xi')}
            min={0}
            step="any"
          />
          <Field label="Threshold group" {...field('thresholdGroup')}>
            {(a) => (
              <Choices
                {...a}
                value={form.thresholdGroup}
                labels={THRESHOLD_GROUP_CHOICES}
                testId="prune-threshold-group"
                onChange={(thresholdGroup) => setForm({ thresholdGroup })}
              />
            )}
          </Field>
          <div className="field">
            <label className="check">
              <input
                type="checkbox"
                checked={form.errorCorrection}
                data-testid="prune-error-correction"
                onChange={(e) => setForm({ errorCorrection: e.target.checked })}
              />
              <span>Intra-layer error correction</span>
            </label>
            <Hint hint={hints.errorCorrection} />
          </div>
        </fieldset>
      )}

      {usesSparseGpt(form) && (
        <fieldset disabled={disabled}>
          <legend>SparseGPT{isFista ? ' (warm start)' : ''}</legend>
          <NumberField
            label="Damping"
            name="percdamp"
            form={form}
            {...field('percdamp')}
            min={0}
            step="any"
          />
        </fieldset>
      )}

      <fieldset disabled={disabled}>
        <legend>Perplexity before and after</legend>
        <div className="field">
          <label className="check">
            <input
              type="checkbox"
              checked={form.evaluate}
              data-testid="prune-evaluate"
              onChange={(e) => setForm({ evaluate: e.target.checked })}
            />
            <span>Measure perplexity</span>
          </label>
          <small className="muted">
            The dense number is measured once per model, text and windows, then reused.
          </small>
        </div>
        {form.evaluate && (
          <>
            <Field label="Text" {...field('evalText')}>
              {(a) => (
                <Choices
                  {...a}
                  value={form.evalText}
                  labels={EVAL_TEXT_CHOICES}
                  testId="prune-eval-text"
                  onChange={(evalText) => setForm({ evalText })}
                />
              )}
            </Field>
            <NumberField
              label="Window length (tokens)"
              name="evalSeqLen"
              form={form}
              {...field('evalSeqLen')}
              min={2}
            />
            <NumberField
              label="Windows"
              name="evalWindows"
              form={form}
              {...field('evalWindows')}
              min={1}
              placeholder="all"
            />
          </>
        )}
      </fieldset>
    </div>
  );
}

/** A field with the paper's value (and ours, where it differs) as its note. */
function Field({ hint, ...rest }: Omit<LabelledFieldProps, 'note'> & { hint?: FieldHint }) {
  return <LabelledField {...rest} note={<Hint hint={hint} />} />;
}

function Hint({ hint }: { hint?: FieldHint }) {
  if (!hint) return null;
  return (
    <small className="muted hint">
      Paper: {hint.paper}
      {hint.ours && <span className="hint-ours"> Ours: {hint.ours}</span>}
    </small>
  );
}

type NumericField =
  | 'windows'
  | 'seqLen'
  | 'iterations'
  | 'rounds'
  | 'xi'
  | 'percdamp'
  | 'evalSeqLen'
  | 'evalWindows';

const TEST_IDS: Record<NumericField, string> = {
  windows: 'prune-windows',
  seqLen: 'prune-seq-len',
  iterations: 'prune-iterations',
  rounds: 'prune-rounds',
  xi: 'prune-xi',
  percdamp: 'prune-damping',
  evalSeqLen: 'prune-eval-seq-len',
  evalWindows: 'prune-eval-windows',
};

function NumberField({
  label,
  name,
  form,
  hint,
  error,
  min,
  step = 1,
  placeholder,
}: {
  label: string;
  name: NumericField;
  form: PruneForm;
  hint?: FieldHint;
  error?: string;
  min: number;
  step?: number | 'any';
  placeholder?: string;
}) {
  const setForm = usePruneStudio((s) => s.setForm);
  return (
    <Field label={label} hint={hint} error={error}>
      {(a) => (
        <input
          {...a}
          type="number"
          min={min}
          step={step}
          placeholder={placeholder}
          value={form[name]}
          data-testid={TEST_IDS[name]}
          onChange={(e) => setForm({ [name]: e.target.value })}
        />
      )}
    </Field>
  );
}

/**
 * GPU devices at once: 1 up to what the cores and budget allow (and the chosen value, should a
 * link or record ask for more, so the error under it says why). Off, with the reason, when the
 * block inputs make every block wait for the one before.
 */
function DevicesField({
  form,
  hint,
  error,
  maxDevices,
}: {
  form: PruneForm;
  hint?: FieldHint;
  error?: string;
  maxDevices: number;
}) {
  const setForm = usePruneStudio((s) => s.setForm);
  const unavailable = devicesUnavailable(form);
  const chosen = Number(form.devices);
  const top = Math.max(maxDevices, Number.isInteger(chosen) ? chosen : 1);
  const choices = Array.from({ length: top }, (_, i) => String(i + 1));
  return (
    <LabelledField
      label="GPU devices"
      error={error}
      note={
        <>
          <Hint hint={hint} />
          {unavailable && <small className="muted">{unavailable}</small>}
        </>
      }
    >
      {(a) => (
        <select
          {...a}
          value={form.devices}
          disabled={unavailable !== null && form.devices === '1'}
          data-testid="prune-devices"
          onChange={(e) => setForm({ devices: e.target.value })}
        >
          {choices.map((v) => (
            <option key={v} value={v}>
              {v === '1' ? '1 (this GPU)' : `${v} devices`}
            </option>
          ))}
        </select>
      )}
    </LabelledField>
  );
}

/**
 * Keep pruned matrices on disk (OPFS): off by default, and off with the reason where the browser
 * has no private file system with sync access handles. The note says when a run does it unasked.
 */
function PrunedOnDiskField({ form, storage }: { form: PruneForm; storage: PrunedStorageResult | null }) {
  const setForm = usePruneStudio((s) => s.setForm);
  const available = storage?.available === true;
  const memory =
    storage?.deviceMemoryGib != null
      ? `this device's ${storage.deviceMemoryGib} GB (navigator.deviceMemory)`
      : 'the 4 GB assumed where the browser does not say (navigator.deviceMemory)';
  return (
    <div className="field">
      <label className="check">
        <input
          type="checkbox"
          checked={available && form.prunedOnDisk}
          disabled={!available}
          data-testid="prune-on-disk"
          onChange={(e) => setForm({ prunedOnDisk: e.target.checked })}
        />
        <span>Keep pruned matrices on disk (OPFS)</span>
      </label>
      <small className="muted" data-testid="prune-on-disk-note">
        {storage === null
          ? 'Asking the browser whether it can…'
          : storage.available
            ? `Each finished block's matrices go to this browser's private file system and are read back for the perplexity, the microscope, the playground and export, so the tab holds one block's. A run whose plan would hold more than ${formatBytes(storage.thresholdBytes)} in the tab (half of ${memory}) does this anyway. The files go when the run is forgotten.`
            : `Unavailable: ${storage.reason}. Pruned matrices stay in the tab's memory.`}
      </small>
    </div>
  );
}
