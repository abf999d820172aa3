"""Model registry, loading, local checkpoints and sequence encoders."""
