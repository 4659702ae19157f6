"""Rewrites the FY2025 rows of contract/reference_data/icd10cm_earlier_years.csv: the codes whose
ICD-10-CM status in the FY2025 list (April 2025 release) differs from the FY2026 list (April 2026)
the project reads through simple-icd-10-cm 1.5.0. The file's FY2024 rows (status in FY2024 where it
differs from FY2025) are kept as they are: they come from the FY2025 annual change lists
(github makevision/icd10cm-open-data, CC0; see reference_data/PROVENANCE.md).

Both lists are CMS/NCHS ICD-10-CM as shipped by the PyPI package simple-icd-10-cm: 1.4.0 holds
April 2025, 1.5.0 (the project's dependency) April 2026. Run with 1.4.0 unpacked somewhere:

    pip download --no-deps simple-icd-10-cm==1.4.0 -d /tmp/icd && unzip /tmp/icd/*.whl -d /tmp/icd/v14
    PYTHONPATH=src python scripts/make_icd10cm_earlier_years.py /tmp/icd/v14
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

FILE = (
    Path(__file__).resolve().parents[1] / "src/denial_risk/contract/reference_data/icd10cm_earlier_years.csv"
)
FIELDS = ["fiscal_year", "code", "valid", "billable"]
DUMP = """
import json, simple_icd_10_cm as cm
print(json.dumps({c: bool(cm.is_leaf(c)) for c in cm.get_all_codes(False) if not cm.is_chapter_or_block(c)}))
"""


def _dump(path: str | None) -> dict[str, bool]:
    code = f"import sys; sys.path[:0] = {[path] if path else []!r}\n" + DUMP
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout)


def main(old_package_dir: str) -> None:
    old, new = _dump(old_package_dir), _dump(None)
    fy2025 = [
        {
            "fiscal_year": "2025",
            "code": c,
            "valid": str(c in old).lower(),
            "billable": str(old.get(c, False)).lower(),
        }
        for c in sorted(set(old) | set(new))
        if (c in old, old.get(c, False)) != (c in new, new.get(c, False))
    ]
    with FILE.open() as f:
        kept = [r for r in csv.DictReader(f) if r["fiscal_year"] != "2025"]
    with FILE.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(kept + fy2025)
    print(f"{FILE.name}: {len(fy2025)} FY2025 rows, {len(kept)} kept")


if __name__ == "__main__":
    main(sys.argv[1])
