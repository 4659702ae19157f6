#!/usr/bin/env bash
# The main job end to end on the embedded sample data (no network, no generator step):
# validate -> train + register (MLflow) -> score the backlog -> HTML report.
set -euo pipefail
out="${1:-outputs/demo}"
mkdir -p "$out"
step() { printf '\n== %s\n' "$*"; }

step "1/4 validate the labelled sample against the contract"
denial-risk validate --data data/sample/claims.csv --rejects "$out/claims.rejects.csv"

step "2/4 train, evaluate on a later-dated holdout, log to MLflow and register"
denial-risk train --data data/sample/claims.csv

step "3/4 score the unlabelled backlog into a ranked worklist"
denial-risk score --data data/sample/backlog.csv --out "$out/worklist.csv" --top 5

step "4/4 write the HTML report"
denial-risk report --scored "$out/worklist.csv" --out "$out/report.html"

printf '\noutputs:\n  worklist  %s\n  rejects   %s\n  report    %s\n  MLflow    %s (browse: .venv/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db)\n' \
  "$out/worklist.csv" "$out/worklist.rejects.csv" "$out/report.html" "${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}"
