// The two buttons every job's panel has. Run says what it does while its job is under way, so the
// page shows the job started even before its first event; Cancel is enabled while the job runs and
// says "Cancelling…" from the click until the job reports how it ended, so a second click is not
// needed or possible.

interface RunButtonProps {
  testId: string;
  label: string;
  /** The label while the job runs ('Running…'). */
  busyLabel: string;
  busy: boolean;
  disabled: boolean;
  /** Why the button is disabled, where that is not plain from the page. */
  title?: string;
  onRun: () => Promise<unknown> | undefined;
}

export function RunButton({ testId, label, busyLabel, busy, disabled, title, onRun }: RunButtonProps) {
  return (
    <button
      type="button"
      className="button button-primary"
      data-testid={testId}
      disabled={disabled}
      title={title}
      onClick={() => void onRun()}
    >
      {busy ? busyLabel : label}
    </button>
  );
}

interface CancelButtonProps {
  testId: string;
  /** Whether the job runs (or, for training, is active: running or paused). */
  running: boolean;
  requested: boolean;
  onCancel: () => Promise<unknown> | undefined;
}

export function CancelButton({ testId, running, requested, onCancel }: CancelButtonProps) {
  return (
    <button
      type="button"
      className="button"
      data-testid={testId}
      disabled={!running || requested}
      onClick={() => void onCancel()}
    >
      {requested ? 'Cancelling…' : 'Cancel'}
    </button>
  );
}
