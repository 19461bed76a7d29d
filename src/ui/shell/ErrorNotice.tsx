// A failure as every panel shows it: what happened, in the engine's words (monospaced, as it may
// name files and tensors), and what to do about it. Nothing while there is no error.

interface ErrorNoticeProps {
  error: { message: string; advice: string } | null | undefined;
  testId?: string;
}

export function ErrorNotice({ error, testId }: ErrorNoticeProps) {
  if (!error) return null;
  return (
    <div className="notice notice-error" role="alert" data-testid={testId}>
      <p className="mono">{error.message}</p>
      <p>{error.advice}</p>
    </div>
  );
}
