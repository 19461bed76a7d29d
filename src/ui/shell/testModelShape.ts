// The built-in stories260K's shape as the pruning form sees it, for the tests of the forms that
// depend on a model (pruning settings, links, records).

import type { ModelShape } from '../pruning/pruneSettings';

export const STORIES_260K: ModelShape = {
  family: 'llama',
  context: 512,
  parameters: 260_000,
  hidden: 64,
  heads: 8,
  headDim: 8,
  ffnHidden: 172,
  defaultSeqLen: 512,
};
