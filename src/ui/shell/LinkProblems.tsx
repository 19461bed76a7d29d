// What the link the studio was opened with asked for and did not get: each refused value with the
// reason. The rest of the link was applied; this says why the form may not show all of it.

import { useLinkProblems } from './urlSync';

export function LinkProblems() {
  const problems = useLinkProblems((s) => s.problems);
  const dismiss = useLinkProblems((s) => s.dismiss);
  if (problems.length === 0) return null;
  return (
    <div className="card notice notice-warn" role="status" data-testid="link-problems">
      <p>This link asked for settings the studio cannot use; they were ignored and the rest was applied:</p>
      <ul>
        {problems.map((problem) => (
          <li key={problem} className="mono small">
            {problem}
          </li>
        ))}
      </ul>
      <button type="button" className="link-button" onClick={dismiss}>
        Dismiss
      </button>
    </div>
  );
}
