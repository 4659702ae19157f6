"""Claim files read in chunks with every row accounted for: reader, normalised table, rejects."""
