// The cancel button every job's panel has: enabled while its job runs, and saying "Cancelling…"
// from the click until the job reports how it ended, so a second click is not needed or possible.

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
