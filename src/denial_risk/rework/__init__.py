"""The denial rework queue: which denied lines to work first, how, and by when (docs/rework.md)."""
