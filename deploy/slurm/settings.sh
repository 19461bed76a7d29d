# The run's settings, shared by prune-shards.sbatch, merge.sbatch and submit.sh. A value already in
# the environment wins, so one file serves several runs (MODEL_DIR=… RUN_DIR=… deploy/slurm/submit.sh).

# How many shards (array tasks) the model's blocks are split into: at most the model's block count.
: "${SHARDS:=3}"
# A Hugging Face model folder on a file system every node sees.
: "${MODEL_DIR:=$HOME/models/opt-125m}"
# Where the shards and the merged model are written: one folder per run.
: "${RUN_DIR:=$HOME/runs/opt-125m-fista-2of4}"
# Every shard must get the same options and seed (merge refuses shards that differ).
: "${PRUNE_OPTIONS:=--method fista --pattern 2:4 --calibration c4 --seed 0}"
export SHARDS MODEL_DIR RUN_DIR PRUNE_OPTIONS
