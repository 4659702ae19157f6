"""Scoring: the shared scoring core, reasons, fixes and the streamed worklist."""
