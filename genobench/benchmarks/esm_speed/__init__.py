"""esm_speed: a fast (SDPA) ESM2 encoder against the reference, timed per length bucket
(`speed`), and the accuracy of a classifier trained on each one's embeddings (`classifier`)."""
