"""End-to-end jobs behind the commands: train and evaluate, promote, backtest, monitor, Spark."""
