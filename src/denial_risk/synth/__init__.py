"""The synthetic claim world: its constants, its draw steps, and its ground truth.

Start at `simulate` (the mechanism in its docstring, the entry points); `world` holds the constants,
`catalog` the code catalogue and diagnosis pools, `draw` and `mechanism` the steps.
"""
