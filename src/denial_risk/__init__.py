"""denial-risk: predict which claim lines a payer will deny, and what to fix first."""

__version__ = "0.1.0"
