"""User-facing value types: Table, Image, Histogram, plot.* charts (and later Artifact)."""
