// The pruning settings: method and pattern, calibration, FISTAPruner's and SparseGPT's knobs, and
// the perplexity measured before and after. Beside each field, the paper's value, and ours where
// it differs with the reason. A wrong field says what it needs right under it; Run stays off.

import { EVAL_BOUNDS } from '../../jobs/evalOptions';
import { EVAL_TEXTS } from '../../model/evaluate';
import { CALIBRATION_TEXTS } from '../../prune/calibration';
import { PRUNE_BOUNDS } from '../../prune/options';
import type { PrunedStorageResult } from '../../worker/api';
import { formatBytes } from '../shell/format';
import { LabelledField } from '../shell/LabelledField';
import { NmField } from '../shell/NmField';
import { CheckField, ChoiceField, type FieldSpecs, settingsFields } from '../shell/settingsFields';
import {
  devicesUnavailable,
  FISTA_PRESETS,
  type FieldHint,
  type FormErrors,
  type FormField,
  isFistaPreset,
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

/** Every field drawn from a spec: its label, control, limits and test id. */
const FIELDS: FieldSpecs<PruneForm> = {
  pattern: {
    kind: 'choice',
    label: 'Pattern',
    labels: { unstructured: 'Unstructured', nm: 'N:M (semi-structured)' },
    testId: 'prune-pattern',
  },
  sparsity: {
    kind: 'number',
    label: 'Sparsity (%)',
    testId: 'prune-sparsity',
    bound: PRUNE_BOUNDS.sparsity,
    percent: true,
  },
  blockInputs: {
    kind: 'choice',
    label: 'Block inputs',
    labels: { dense: "Dense model's (blocks independent)", pruned: "Pruned model's (sequential)" },
    testId: 'prune-block-inputs',
  },
  calibration: {
    kind: 'choice',
    label: 'Text',
    labels: {
      c4: CALIBRATION_TEXTS.c4.label,
      tinystories: CALIBRATION_TEXTS.tinystories.label,
      text: 'Paste a text',
    },
    testId: 'prune-calibration',
  },
  windows: { kind: 'number', label: 'Windows', testId: 'prune-windows', bound: PRUNE_BOUNDS.windows },
  seqLen: {
    kind: 'number',
    label: 'Window length (tokens)',
    testId: 'prune-seq-len',
    bound: PRUNE_BOUNDS.seqLen,
  },
  seed: { kind: 'text', label: 'Seed', testId: 'prune-seed', className: 'mono' },
  warmStart: { kind: 'choice', label: 'Warm start', labels: WARM_START_LABELS, testId: 'prune-warm-start' },
  iterations: {
    kind: 'number',
    label: 'FISTA iterations K',
    testId: 'prune-iterations',
    bound: PRUNE_BOUNDS.iterations,
  },
  rounds: { kind: 'number', label: 'λ rounds T', testId: 'prune-rounds', bound: PRUNE_BOUNDS.rounds },
  xi: { kind: 'number', label: 'ξ (E_round / E_total)', testId: 'prune-xi', bound: PRUNE_BOUNDS.xi },
  thresholdGroup: {
    kind: 'choice',
    label: 'Threshold group',
    labels: { row: 'Per row', matrix: 'Whole matrix' },
    testId: 'prune-threshold-group',
  },
  errorCorrection: { kind: 'check', label: 'Intra-layer error correction', testId: 'prune-error-correction' },
  percdamp: { kind: 'number', label: 'Damping', testId: 'prune-damping', bound: PRUNE_BOUNDS.percdamp },
  evaluate: {
    kind: 'check',
    label: 'Measure perplexity',
    testId: 'prune-evaluate',
    note: 'The dense number is measured once per model, text and windows, then reused.',
  },
  evalText: {
    kind: 'choice',
    label: 'Text',
    labels: { wikitext2: EVAL_TEXTS.wikitext2.label, tinystories: EVAL_TEXTS.tinystories.label },
    testId: 'prune-eval-text',
  },
  evalSeqLen: {
    kind: 'number',
    label: 'Window length (tokens)',
    testId: 'prune-eval-seq-len',
    bound: EVAL_BOUNDS.seqLen,
  },
  evalWindows: {
    kind: 'number',
    label: 'Windows',
    testId: 'prune-eval-windows',
    bound: EVAL_BOUNDS.maxWindows,
    placeholder: 'all',
  },
};

export function PruneSettingsForm({ form, hints, errors, disabled, maxDevices, storage }: Props) {
  const setForm = usePruneStudio((s) => s.setForm);
  const notes = (name: FormField) => ({ note: <Hint hint={hints[name]} />, error: errors[name] });
  const fields = settingsFields({ form, setForm, specs: FIELDS, notes });
  const isFista = form.method === 'fista';

  return (
    <div className="prune-settings">
      <fieldset disabled={disabled}>
        <legend>Method and pattern</legend>
        <ChoiceField
          label="Method"
          {...notes('method')}
          value={form.method}
          labels={METHOD_LABELS}
          testId="prune-method"
          onChange={(method) => setForm(withMethod(form, method))}
        />
        {fields('pattern')}
        {form.pattern === 'unstructured' ? (
          fields('sparsity')
        ) : (
          <NmField
            nm={form}
            labels={['N, kept of every M', 'M, group width']}
            invalid={[Boolean(errors.n), Boolean(errors.m)]}
            testId="prune"
            onChange={({ n, m }) => setForm({ n, m })}
            presets={NM_PRESETS.map((p) => (
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
          >
            <small className="muted">
              N weights kept in every M consecutive inputs of a row; 2:4 runs on sparse tensor cores.
            </small>
            {(errors.n || errors.m) && <small className="field-error">{errors.n ?? errors.m}</small>}
          </NmField>
        )}
        {fields('blockInputs')}
        <DevicesField form={form} hint={hints.devices} error={errors.devices} maxDevices={maxDevices} />
        <PrunedOnDiskField form={form} storage={storage} />
      </fieldset>

      <fieldset disabled={disabled}>
        <legend>Calibration</legend>
        {fields('calibration')}
        {form.calibration === 'text' && (
          <LabelledField label="Calibration text" {...notes('pastedText')} wide>
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
          </LabelledField>
        )}
        {fields('windows', 'seqLen', 'seed')}
        {form.method === 'magnitude' && (
          <p className="muted small field-note">
            Magnitude pruning reads no activations: the windows only measure its reconstruction error.
          </p>
        )}
      </fieldset>

      {isFista && (
        <fieldset disabled={disabled}>
          <legend>FISTAPruner</legend>
          <div className="preset-row" data-testid="prune-fista-presets">
            {FISTA_PRESETS.map((p) => {
              const selected = isFistaPreset(form, p.fields);
              return (
                <button
                  key={p.id}
                  type="button"
                  className={`button button-small${selected ? ' selected' : ''}`}
                  aria-pressed={selected}
                  data-testid={`prune-fista-preset-${p.id}`}
                  onClick={() => setForm(p.fields)}
                >
                  {p.label}
                </button>
              );
            })}
          </div>
          {fields('warmStart', 'iterations', 'rounds', 'xi', 'thresholdGroup', 'errorCorrection')}
        </fieldset>
      )}

      {usesSparseGpt(form) && (
        <fieldset disabled={disabled}>
          <legend>SparseGPT{isFista ? ' (warm start)' : ''}</legend>
          {fields('percdamp')}
        </fieldset>
      )}

      <fieldset disabled={disabled}>
        <legend>Perplexity before and after</legend>
        {fields('evaluate')}
        {form.evaluate && fields('evalText', 'evalSeqLen', 'evalWindows')}
      </fieldset>
    </div>
  );
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
    <CheckField
      label="Keep pruned matrices on disk (OPFS)"
      checked={available && form.prunedOnDisk}
      disabled={!available}
      testId="prune-on-disk"
      onChange={(prunedOnDisk) => setForm({ prunedOnDisk })}
    >
      <small className="muted" data-testid="prune-on-disk-note">
        {storage === null
          ? 'Asking the browser whether it can…'
          : storage.available
            ? `Each finished block's matrices go to this browser's private file system and are read back for the perplexity, the microscope, the playground and export, so the tab holds one block's. A run whose plan would hold more than ${formatBytes(storage.thresholdBytes)} in the tab (half of ${memory}) does this anyway. The files go when the run is forgotten.`
            : `Unavailable: ${storage.reason}. Pruned matrices stay in the tab's memory.`}
      </small>
    </CheckField>
  );
}
