#!/bin/bash
# Submits the shards as one job array and the merge after them. Run from the repository's root:
#   deploy/slurm/submit.sh            (settings from deploy/slurm/settings.sh or the environment)
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/slurm/settings.sh
mkdir -p "$RUN_DIR"
array=$(sbatch --parsable --array="1-$SHARDS" deploy/slurm/prune-shards.sbatch)
merge=$(sbatch --parsable --dependency="afterok:${array%%;*}" deploy/slurm/merge.sbatch)
echo "shards: job array $array; merge: job $merge (after every shard succeeded); output in $RUN_DIR/merged"
