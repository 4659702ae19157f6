"""The contract: the claim table's columns, accepted forms, code sets, payer policy and per-line facts."""
