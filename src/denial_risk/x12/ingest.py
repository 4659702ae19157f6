"""X12 837 claims and 835 remittances -> the contract's claim table.

`ingest(claim_paths, remit_paths)` reads every file (folders are walked),
one file at a time (`readfile.read_file`), as far as each transaction is
complete: envelope and count defects are warnings, a claim cut mid-loop or
unreadable is dropped and named, a file that yields nothing is unreadable
(docs/x12.md, "Leniency"). With `strict=True` any envelope defect rejects the
whole file. Every finding is an `Issue` row; `write_outputs` writes the
labelled table, the unlabelled backlog, the findings (`<out>.errors.csv`) and a
summary of the counts. Patient identifiers never leave the readers except as
salted hashes, and nothing here logs them.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from denial_risk.contract import schema
from denial_risk.errors import UserError
from denial_risk.x12.codes import REVERSAL_CLAIM_STATUS
from denial_risk.x12.join import join
from denial_risk.x12.links import REMIT_COLUMNS, initial_of, link_resubmissions
from denial_risk.x12.read835 import RemitClaim
from denial_risk.x12.read837 import ClaimStats
from denial_risk.x12.readfile import read_file
from denial_risk.x12.segments import ERROR, WARNING, Issue, X12FileError

EXTRA_COLUMNS = (
    "icd9_diagnosis_codes",
    "x12_line_control_number",
    "match_method",
    "source_file",
    "remit_file",
    *REMIT_COLUMNS,
)
LABELLED_COLUMNS = (
    *schema.REQUIRED,
    *schema.OPTIONAL,
    *schema.LABELS,
    *schema.OPTIONAL_LABELS,
    *EXTRA_COLUMNS,
)
UNLABELLED_COLUMNS = (
    *schema.REQUIRED,
    *schema.OPTIONAL,
    "icd9_diagnosis_codes",
    "x12_line_control_number",
    "source_file",
)
ISSUE_COLUMNS = ("severity", "file", "role", "segment", "transaction", "claim_id", "message")
_SKIP_NAMES = ("license", "readme", "copying", "notice")


@dataclass
class IngestResult:
    labelled: pd.DataFrame
    unlabelled: pd.DataFrame
    issues: list[Issue]  # every finding, file by file (the rows of <out>.errors.csv)
    counts: dict
    duplicates: list[dict]
    remits_given: bool

    @property
    def errors(self) -> list[Issue]:
        """What was lost: unreadable files (segment None) and dropped claims."""
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def bad_files(self) -> list[Issue]:
        return [i for i in self.errors if i.segment is None and i.claim_id is None]

    @property
    def dropped_claims(self) -> list[Issue]:
        return [i for i in self.errors if not (i.segment is None and i.claim_id is None) and i.lost != "line"]

    @property
    def dropped_lines(self) -> list[Issue]:
        """835 service lines that could not be read (their claims' other lines are kept)."""
        return [i for i in self.errors if i.lost == "line"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]


def collect_files(paths: Iterable[str | os.PathLike], option: str) -> list[Path]:
    """Files named, and the files under folders named (sorted); a missing path is the user's mistake."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise UserError(f"{option} {p}: no such file or folder")
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if (
                    f.is_file()
                    and not f.name.startswith(".")
                    and not f.name.lower().startswith(_SKIP_NAMES)
                    and f.suffix.lower() not in (".md", ".csv", ".json", ".parquet")
                ):
                    out.append(f)
        else:
            from denial_risk.tableio.files import check_input

            check_input(path, option)  # a FIFO named here would block the read for ever
            out.append(path)
    return out


def apply_reversals(remits: list[RemitClaim], counts: Counter) -> list[RemitClaim]:
    """Drop each reversal (CLP02 = 22) with the earlier adjudication it reverses, so neither counts;
    the next adjudication of the claim keeps the cancelled one's as its `initial` (a rework link)."""
    kept: list[RemitClaim | None] = []
    live: dict[str, list[int]] = defaultdict(list)
    cancelled: dict[str, RemitClaim] = {}  # the re-adjudication that follows links to it (docs/x12.md)
    for rc in remits:
        if rc.status == REVERSAL_CLAIM_STATUS:
            stack = live.get(rc.claim_id) or []
            same = [i for i in stack if abs(abs(kept[i].charge) - abs(rc.charge)) < 0.005]
            idx = (same or stack)[-1] if stack else None
            if idx is None:
                counts["reversals_without_original"] += 1
            else:
                stack.remove(idx)
                cancelled[rc.claim_id] = kept[idx]
                kept[idx] = None
                counts["reversals_applied"] += 1
            continue
        rc.initial = rc.initial or initial_of(cancelled.pop(rc.claim_id, None))
        live[rc.claim_id].append(len(kept))
        kept.append(rc)
    return [rc for rc in kept if rc is not None]


def _frame(rows: list[dict], columns: tuple[str, ...]) -> pd.DataFrame:
    data = {c: [r.get(c) for r in rows] for c in columns}
    df = pd.DataFrame(data, columns=list(columns))
    for c in columns:
        if c in schema.DECIMAL_COLUMNS:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
        elif c in schema.INTEGER_COLUMNS:
            df[c] = df[c].astype("Int64")
        elif c in schema.BOOLEAN_COLUMNS:
            df[c] = df[c].astype("boolean")
        else:
            df[c] = df[c].astype("string")
    return df


def _duplicates(items: list[tuple[str, str]], kind: str) -> list[dict]:
    by_id: dict[str, list[str]] = defaultdict(list)
    for claim_id, source in items:
        by_id[claim_id].append(source)
    return [
        {"claim_id": k, "in": kind, "occurrences": len(v), "files": sorted(set(v))}
        for k, v in by_id.items()
        if len(v) > 1
    ]


_COUNTS = (
    "files",
    "bad_files",
    "claims_dropped",
    "remit_lines_dropped",
    "warnings",
    "files_with_warnings",
    "claim_lines",
    "remit_lines",
    "matched_claims",
    "unmatched_claims",
    "unmatched_claim_lines",
    "unmatched_remit_claims",
    "unmatched_remit_lines",
    "reversals_applied",
    "reversals_without_original",
)


@dataclass
class _Collected:
    claims: list[tuple[str, list[dict]]] = field(default_factory=list)
    remits: list[RemitClaim] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    stats: ClaimStats = field(default_factory=ClaimStats)
    counts: Counter = field(default_factory=lambda: Counter({k: 0 for k in _COUNTS}))


def _read_all(files: list[tuple[str, Path]], strict: bool) -> _Collected:
    """Every file once, one at a time (memory grows with the rows kept, not the files)."""
    out = _Collected()
    counts = out.counts
    seen: set[Path] = set()
    for role, f in files:
        if f.resolve() in seen:
            out.issues.append(Issue(WARNING, "named more than once: read once", file=str(f), role=role))
            continue
        seen.add(f.resolve())
        counts["files"] += 1
        try:
            content = read_file(f, strict=strict)
        except (X12FileError, UnicodeError, OSError) as exc:
            out.issues.append(Issue(ERROR, str(exc), file=str(f), role=role))
            counts["bad_files"] += 1
            continue
        for issue in content.issues:
            issue.file, issue.role = str(f), role
        out.issues.extend(content.issues)
        counts["claims_dropped"] += content.dropped_claims
        counts["remit_lines_dropped"] += sum(1 for i in content.issues if i.lost == "line")
        counts["files_with_warnings"] += any(i.severity == WARNING for i in content.issues)
        for kind, n in content.transactions.items():
            counts[f"transactions_{kind}"] += n
        out.claims.extend(content.claims)
        out.remits.extend(content.remits)
        out.stats.add(content.stats)
    counts["warnings"] = sum(1 for i in out.issues if i.severity == WARNING)
    return out


def ingest(
    claim_paths: Iterable[str | os.PathLike] = (),
    remit_paths: Iterable[str | os.PathLike] = (),
    *,
    strict: bool = False,
) -> IngestResult:
    """Read, label and join; `strict`: any envelope defect rejects its whole file (the old rule)."""
    claim_files = collect_files(claim_paths, "--claims")
    remit_files = collect_files(remit_paths, "--remits")
    got = _read_all([("claims", f) for f in claim_files] + [("remits", f) for f in remit_files], strict)
    counts, claims, remits = got.counts, got.claims, got.remits
    counts["claims"] = len(claims)
    counts["claims_with_icd9_diagnoses"] = got.stats.icd9_claims
    counts["claims_without_lines"] = got.stats.claims_without_lines
    counts["remit_claims"] = len(remits)
    duplicates = _duplicates(
        [(cid, rows[0]["source_file"] if rows else "") for cid, rows in claims], "claims"
    )
    remits = apply_reversals(remits, counts)
    duplicates += _duplicates([(rc.claim_id, rc.source_file) for rc in remits], "remits")
    res = join(claims, remits)
    counts["reworks_linked"] = link_resubmissions(res.labelled)
    for k, v in res.counts.items():
        counts[k] = v
    counts["duplicate_claim_ids_in_claims"] = sum(1 for d in duplicates if d["in"] == "claims")
    counts["duplicate_claim_ids_in_remits"] = sum(1 for d in duplicates if d["in"] == "remits")
    counts["labelled_rows"] = len(res.labelled)
    counts["unlabelled_rows"] = len(res.unlabelled)
    return IngestResult(
        labelled=_frame(res.labelled, LABELLED_COLUMNS),
        unlabelled=_frame(res.unlabelled, UNLABELLED_COLUMNS),
        issues=got.issues,
        counts=dict(sorted(counts.items())),
        duplicates=duplicates,
        remits_given=bool(remit_files),
    )


def issues_frame(issues: list[Issue]) -> pd.DataFrame:
    """The findings as the rows of `<out>.errors.csv`."""
    df = pd.DataFrame(
        [{c: getattr(i, c) for c in ISSUE_COLUMNS} for i in issues], columns=list(ISSUE_COLUMNS)
    )
    df["segment"] = df["segment"].astype("Int64")
    for c in ISSUE_COLUMNS:
        if c != "segment":
            df[c] = df[c].astype("string")
    return df


def sibling_path(out: str | os.PathLike, tag: str, ext: str | None = None) -> Path:
    """`labels.parquet` -> `labels.<tag>.parquet` (or `.<ext>` when given)."""
    p = Path(out)
    suffix = p.suffix
    stem = p.name[: len(p.name) - len(suffix)] if suffix else p.name
    return p.with_name(f"{stem}.{tag}{'.' + ext if ext else suffix}")


def write_outputs(result: IngestResult, out: str | os.PathLike) -> dict[str, Path]:
    """Write the tables (atomically, CSV or Parquet by extension), the findings CSV and summary JSON."""
    from denial_risk.tableio.files import write_table, write_text

    written: dict[str, Path] = {}
    if result.remits_given:
        written["labelled"] = write_table(result.labelled, out, option="--out")
        written["unlabelled"] = write_table(
            result.unlabelled, sibling_path(out, "unlabelled"), option="--out"
        )
    else:
        # nothing to label with: the claims are the backlog, written at --out
        written["unlabelled"] = write_table(result.unlabelled, out, option="--out")
    written["errors"] = write_table(
        issues_frame(result.issues), sibling_path(out, "errors", "csv"), option="--out"
    )
    summary = {
        "counts": result.counts,
        "duplicates": result.duplicates,
        "bad_files": [_issue_dict(i) for i in result.bad_files],
        "dropped_claims": [_issue_dict(i) for i in result.dropped_claims][:1000],
        "dropped_lines": [_issue_dict(i) for i in result.dropped_lines][:1000],
        "warnings": [_issue_dict(i) for i in result.warnings][:1000],
    }
    written["summary"] = write_text(json.dumps(summary, indent=2), sibling_path(out, "summary", "json"))
    return written


def _issue_dict(issue: Issue) -> dict:
    return {c: getattr(issue, c) for c in ISSUE_COLUMNS}
