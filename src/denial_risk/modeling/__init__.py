"""The model's life: configuration, fitting, calibration, evaluation, saving, model card, drift."""
