// "Delete all", asked again before it deletes: the first click asks the question beside a second
// "Delete all" and "Keep them", so one stray click never empties a store.

import { type ReactNode, useState } from 'react';
import { Button } from './Button';

interface DeleteAllProps {
  /** The first button's test id; the confirming one's is `${testId}-confirm`. */
  testId: string;
  /** Asked beside the confirming button: what would be deleted. */
  question: ReactNode;
  disabled?: boolean;
  onDelete: () => Promise<unknown>;
}

export function DeleteAll({ testId, question, disabled, onDelete }: DeleteAllProps) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <Button testId={testId} disabled={disabled} onClick={() => setAsking(true)}>
        Delete all
      </Button>
    );
  }
  return (
    <span className="history-actions">
      <span>{question}</span>
      <Button
        testId={`${testId}-confirm`}
        onClick={() => {
          setAsking(false);
          void onDelete();
        }}
      >
        Delete all
      </Button>
      <Button onClick={() => setAsking(false)}>Keep them</Button>
    </span>
  );
}
