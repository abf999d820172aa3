"""esm_speed: a fast (SDPA) ESM2 encoder against the reference.

- `inputs`: the speed proteins by length bucket and the labelled validation set;
- `speed`: the timing protocol per length bucket, the speedup with its range over the
  repeats and its verdict;
- `classifier`: the MLP classifier on embeddings and its checkpoints;
- `validation`: one model's classifier end to end, and the accuracy-drop verdict against
  a baseline;
- `pairs`: every pair of models run end to end;
- `comparison`: one row per pair, the run's verdicts and its Markdown summary.
"""
