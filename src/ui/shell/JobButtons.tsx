// The two buttons every job's panel has. Run says what it does while its job is under way, so the
// page shows the job started even before its first event; Cancel is enabled while the job runs and
// says "Cancelling…" from the click until the job reports how it ended, so a second click is not
// needed or possible.

import type { ReactNode } from 'react';

interface JobButtonsProps {
  /** The test ids of Run and of Cancel. */
  testIds: [run: string, cancel: string];
  label?: string;
  /** Run's label while the job runs. */
  busyLabel?: string;
  /** Whether the job runs (or, for training, is active: running or paused). */
  running: boolean;
  /** Run is disabled (it is while the job runs, and whenever the panel says it cannot run). */
  disabled: boolean;
  /** Why Run is disabled, where that is not plain from the page. */
  title?: string;
  cancelRequested: boolean;
  onRun: () => Promise<unknown> | undefined;
  onCancel: () => Promise<unknown> | undefined;
  /** Buttons of the job's own between the two (training's Pause and Resume). */
  children?: ReactNode;
}

export function JobButtons({
  testIds: [runId, cancelId],
  label = 'Run',
  busyLabel = 'Running…',
  running,
  disabled,
  title,
  cancelRequested,
  onRun,
  onCancel,
  children,
}: JobButtonsProps) {
  return (
    <>
      <button
        type="button"
        className="button button-primary"
        data-testid={runId}
        disabled={disabled}
        title={title}
        onClick={() => void onRun()}
      >
        {running ? busyLabel : label}
      </button>
      {children}
      <button
        type="button"
        className="button"
        data-testid={cancelId}
        disabled={!running || cancelRequested}
        onClick={() => void onCancel()}
      >
        {cancelRequested ? 'Cancelling…' : 'Cancel'}
      </button>
    </>
  );
}
