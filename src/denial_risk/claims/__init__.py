"""Claim files: streaming reading with every row accounted for, output files, memory."""
