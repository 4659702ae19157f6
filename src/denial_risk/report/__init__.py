"""The HTML worklist report and the exploration plots."""
