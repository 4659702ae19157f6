"""The synthetic claim world: its constants, its draw steps, and its ground truth."""
