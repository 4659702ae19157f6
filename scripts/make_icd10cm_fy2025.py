"""Writes contract/reference_data/icd10cm_fy2025_changes.csv: the codes whose ICD-10-CM status differs
between the FY2025 list (April 2025 release) and the FY2026 list (April 2026) the project reads.

Both lists are CMS/NCHS ICD-10-CM as shipped by the PyPI package simple-icd-10-cm: 1.4.0 holds
April 2025, 1.5.0 (the project's dependency) April 2026. Run with 1.4.0 unpacked somewhere:

    pip download --no-deps simple-icd-10-cm==1.4.0 -d /tmp/icd && unzip /tmp/icd/*.whl -d /tmp/icd/v14
    PYTHONPATH=src python scripts/make_icd10cm_fy2025.py /tmp/icd/v14
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

DUMP = """
import json, simple_icd_10_cm as cm
out = {}
for c in cm.get_all_codes(False):
    if cm.is_chapter_or_block(c):
        continue
    out[c] = bool(cm.is_leaf(c))
print(json.dumps(out))
"""


def _dump(path: str | None) -> dict[str, bool]:
    env_path = [path] if path else []
    code = f"import sys; sys.path[:0] = {env_path!r}\n" + DUMP
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout)


def main(old_package_dir: str) -> None:
    old, new = _dump(old_package_dir), _dump(None)
    rows = []
    for c in sorted(set(old) | set(new)):
        o, n = (c in old, old.get(c, False)), (c in new, new.get(c, False))
        if o != n:
            rows.append({"code": c, "valid_fy2025": str(o[0]).lower(), "billable_fy2025": str(o[1]).lower()})
    ref = Path(__file__).resolve().parents[1] / "src/denial_risk/contract/reference_data"
    out = ref / "icd10cm_fy2025_changes.csv"
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["code", "valid_fy2025", "billable_fy2025"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"{out.name}: {len(rows)} codes")


if __name__ == "__main__":
    main(sys.argv[1])
