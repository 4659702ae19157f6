"""What a biller is told and can do: every word a biller reads (wording.py) and the fixes a biller
can truthfully make to a line (remedies.py), above the contract whose facts they use."""
