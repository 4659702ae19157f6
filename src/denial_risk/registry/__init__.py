"""MLflow: tracking and registry calls, the logged pyfunc, the scoring server."""
