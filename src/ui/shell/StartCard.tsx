// The first screen: what the studio is for, as one-click starts (a 2:4 prune watched generating
// beside the dense model, and the two paper demos), and the panels below as the steps of one
// workflow, each a link to its section.

import { useState } from 'react';
import { useModelStudio } from '../model/modelStore';
import { usePlayground } from '../playground/playgroundStore';
import { usePruneStudio } from '../pruning/pruneStore';
import { pruneThenGenerate } from './studioActions';

const STEPS = [
  { href: '#model', label: 'Load a model' },
  { href: '#evaluate', label: 'Measure its perplexity' },
  { href: '#prune', label: 'Prune it' },
  { href: '#microscope', label: 'Inspect the masks' },
  { href: '#playground', label: 'Run it beside the dense model' },
];

export function StartCard() {
  const [problem, setProblem] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const pruning = usePruneStudio((s) => s.job.status === 'running');
  const generating = usePlayground((s) => s.job.status === 'running');
  const busy = pruning || generating;
  const modelBusy = useModelStudio((s) => s.load.status === 'loading' || s.evaluation.status === 'running');

  const quickStart = async () => {
    setProblem(null);
    setStarting(true);
    try {
      setProblem(await pruneThenGenerate());
    } finally {
      setStarting(false);
    }
  };

  return (
    <section className="card start-card" aria-labelledby="start-title">
      <h2 id="start-title">Start here</h2>
      <p>
        Compress a language model on this GPU and watch it happen: prune it with FISTAPruner or a baseline,
        see which weights went, and run the pruned model beside the dense one; or train a small model with the
        Adapprox optimizer. Nothing leaves this machine.
      </p>
      <div className="start-options">
        <div className="start-option">
          <h3>Prune to 2:4, then generate</h3>
          <p className="small muted">
            The built-in stories260K pruned by FISTAPruner to the 2:4 pattern (about a minute without a GPU),
            then the dense and the pruned model continue one prompt side by side.
          </p>
          <button
            type="button"
            className="button button-primary"
            data-testid="start-prune-generate"
            disabled={starting || busy || modelBusy}
            onClick={() => void quickStart()}
          >
            {starting ? 'Running…' : 'Start'}
          </button>
        </div>
        <div className="start-option">
          <h3>FISTAPruner paper demo</h3>
          <p className="small muted">The method explained beside its run: 2:4 sparsity on a small Llama.</p>
          <a className="button" href="?demo=fista-2-4-stories260K" data-testid="start-demo-fista">
            Open
          </a>
        </div>
        <div className="start-option">
          <h3>Adapprox paper demo</h3>
          <p className="small muted">
            A nano GPT trained with Adapprox against AdamW, the optimizer memory measured exactly.
          </p>
          <a className="button" href="?demo=adapprox-nano-gpt" data-testid="start-demo-adapprox">
            Open
          </a>
        </div>
      </div>
      {problem && (
        <p className="field-error" role="alert" data-testid="start-problem">
          {problem}
        </p>
      )}
      <ol className="start-steps" aria-label="The workflow">
        {STEPS.map((s) => (
          <li key={s.href}>
            <a href={s.href}>{s.label}</a>
          </li>
        ))}
      </ol>
    </section>
  );
}
