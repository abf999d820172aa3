"""Loading and validating inputs, and synthetic data generators."""
