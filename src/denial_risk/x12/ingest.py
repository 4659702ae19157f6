"""X12 837 claims and 835 remittances -> the contract's claim table.

`ingest(claim_paths, remit_paths)` reads every file (folders are walked),
one file at a time: a file is parsed completely or not at all. A bad file
(not X12, truncated envelope, wrong segment counts, malformed amounts, an
unknown transaction set, ...) is recorded with its reason and the others go
on. `write_outputs` writes the labelled table, the unlabelled backlog, the
errors and a summary of the counts. Patient identifiers never leave the
readers except as salted hashes, and nothing here logs them.
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
from denial_risk.x12.read835 import Remit835Parser, RemitClaim
from denial_risk.x12.read837 import Claim837Parser, ClaimStats
from denial_risk.x12.segments import X12FileError, iter_segments, parse_date

EXTRA_COLUMNS = (
    "icd9_diagnosis_codes",
    "x12_line_control_number",
    "match_method",
    "source_file",
    "remit_file",
)
LABELLED_COLUMNS = (*schema.REQUIRED, *schema.OPTIONAL, *schema.LABELS, *EXTRA_COLUMNS)
UNLABELLED_COLUMNS = (
    *schema.REQUIRED,
    *schema.OPTIONAL,
    "icd9_diagnosis_codes",
    "x12_line_control_number",
    "source_file",
)
_SKIP_NAMES = ("license", "readme", "copying", "notice")


@dataclass
class FileProblem:
    file: str
    role: str  # "claims" or "remits" (the option the file came from)
    reason: str


@dataclass
class FileContent:
    claims: list[tuple[str, list[dict]]] = field(default_factory=list)
    remits: list[RemitClaim] = field(default_factory=list)
    transactions: Counter = field(default_factory=Counter)


@dataclass
class IngestResult:
    labelled: pd.DataFrame
    unlabelled: pd.DataFrame
    problems: list[FileProblem]
    counts: dict
    duplicates: list[dict]
    warnings: list[str]
    remits_given: bool


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
            out.append(path)
    return out


def read_file(path: Path, stats: ClaimStats, warnings: list[str]) -> FileContent:
    """Every transaction of one interchange file; X12FileError if the file is bad."""
    content = FileContent()
    name = str(path)
    version = ""
    gs_date = None
    parser = None
    file_warnings: list[str] = []
    file_stats = ClaimStats()
    for seg in iter_segments(path):
        sid = seg.id
        if sid == "GS":
            version = seg.v(8)
            gs_date = parse_date(seg.v(4))
        elif sid == "ST":
            kind = seg.v(1)
            content.transactions[kind] += 1
            if kind == "837":
                parser = Claim837Parser(name, seg.v(3) or version, gs_date, file_stats)
            elif kind == "835":
                parser = Remit835Parser(name, file_warnings)
            else:
                raise X12FileError(
                    f"unknown transaction set {kind!r} in segment {seg.n} (only 837 and 835 are read)"
                )
        elif sid == "SE":
            if parser is None:
                raise X12FileError(f"SE without ST in segment {seg.n}")
            parser.finish()
            if isinstance(parser, Claim837Parser):
                content.claims.extend(parser.claims)
            else:
                content.remits.extend(parser.claims)
            parser = None
        elif parser is not None:
            parser.feed(seg)
        elif sid not in ("ISA", "IEA", "GE", "TA1"):
            raise X12FileError(f"segment {sid} outside a transaction (segment {seg.n})")
    if not content.transactions:
        raise X12FileError("no transaction (ST/SE) in the interchange")
    # the file is good: merge its statistics and warnings
    stats.claims += file_stats.claims
    stats.icd9_claims += file_stats.icd9_claims
    stats.claims_without_lines += file_stats.claims_without_lines
    warnings.extend(f"{path.name}: {w}" for w in file_stats.warnings + file_warnings)
    return content


def apply_reversals(remits: list[RemitClaim], counts: Counter) -> list[RemitClaim]:
    """Drop each reversal (CLP02 = 22) with the earlier adjudication it reverses, so neither counts."""
    kept: list[RemitClaim | None] = []
    live: dict[str, list[int]] = defaultdict(list)
    for rc in remits:
        if rc.status == REVERSAL_CLAIM_STATUS:
            stack = live.get(rc.claim_id) or []
            same = [i for i in stack if abs(abs(kept[i].charge) - abs(rc.charge)) < 0.005]
            idx = (same or stack)[-1] if stack else None
            if idx is None:
                counts["reversals_without_original"] += 1
            else:
                stack.remove(idx)
                kept[idx] = None
                counts["reversals_applied"] += 1
            continue
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


def ingest(
    claim_paths: Iterable[str | os.PathLike] = (), remit_paths: Iterable[str | os.PathLike] = ()
) -> IngestResult:
    claim_files = collect_files(claim_paths, "--claims")
    remit_files = collect_files(remit_paths, "--remits")
    stats = ClaimStats()
    warnings: list[str] = []
    problems: list[FileProblem] = []
    counts: Counter = Counter(
        {
            k: 0
            for k in (
                "files",
                "bad_files",
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
        }
    )
    claims: list[tuple[str, list[dict]]] = []
    remits: list[RemitClaim] = []
    seen_files: set[Path] = set()
    for role, files in (("claims", claim_files), ("remits", remit_files)):
        for f in files:
            if f.resolve() in seen_files:
                warnings.append(f"{f}: named more than once, read once")
                continue
            seen_files.add(f.resolve())
            counts["files"] += 1
            try:
                content = read_file(f, stats, warnings)
            except (X12FileError, UnicodeError, OSError) as exc:
                problems.append(FileProblem(str(f), role, str(exc)))
                counts["bad_files"] += 1
                continue
            for kind, n in content.transactions.items():
                counts[f"transactions_{kind}"] += n
            claims.extend(content.claims)
            remits.extend(content.remits)
    counts["claims"] = len(claims)
    counts["claims_with_icd9_diagnoses"] = stats.icd9_claims
    counts["claims_without_lines"] = stats.claims_without_lines
    counts["remit_claims"] = len(remits)
    duplicates = _duplicates(
        [(cid, rows[0]["source_file"] if rows else "") for cid, rows in claims], "claims"
    )
    remits = apply_reversals(remits, counts)
    duplicates += _duplicates([(rc.claim_id, rc.source_file) for rc in remits], "remits")
    res = join(claims, remits)
    for k, v in res.counts.items():
        counts[k] = v
    counts["duplicate_claim_ids_in_claims"] = sum(1 for d in duplicates if d["in"] == "claims")
    counts["duplicate_claim_ids_in_remits"] = sum(1 for d in duplicates if d["in"] == "remits")
    counts["labelled_rows"] = len(res.labelled)
    counts["unlabelled_rows"] = len(res.unlabelled)
    return IngestResult(
        labelled=_frame(res.labelled, LABELLED_COLUMNS),
        unlabelled=_frame(res.unlabelled, UNLABELLED_COLUMNS),
        problems=problems,
        counts=dict(sorted(counts.items())),
        duplicates=duplicates,
        warnings=warnings,
        remits_given=bool(remit_files),
    )


def sibling_path(out: str | os.PathLike, tag: str, ext: str | None = None) -> Path:
    """`labels.parquet` -> `labels.<tag>.parquet` (or `.<ext>` when given)."""
    p = Path(out)
    suffix = p.suffix
    stem = p.name[: len(p.name) - len(suffix)] if suffix else p.name
    return p.with_name(f"{stem}.{tag}{'.' + ext if ext else suffix}")


def write_outputs(result: IngestResult, out: str | os.PathLike) -> dict[str, Path]:
    """Write the tables (atomically, CSV or Parquet by extension), errors CSV and summary JSON."""
    from denial_risk.claims.files import atomic_path, write_table

    written: dict[str, Path] = {}
    if result.remits_given:
        written["labelled"] = write_table(result.labelled, out, option="--out")
        written["unlabelled"] = write_table(
            result.unlabelled, sibling_path(out, "unlabelled"), option="--out"
        )
    else:
        # nothing to label with: the claims are the backlog, written at --out
        written["unlabelled"] = write_table(result.unlabelled, out, option="--out")
    errors = pd.DataFrame([p.__dict__ for p in result.problems], columns=["file", "role", "reason"])
    err_path = sibling_path(out, "errors", "csv")
    with atomic_path(err_path) as tmp:
        errors.to_csv(tmp, index=False)
    written["errors"] = err_path
    summary_path = sibling_path(out, "summary", "json")
    with atomic_path(summary_path) as tmp:
        tmp.write_text(
            json.dumps(
                {
                    "counts": result.counts,
                    "duplicates": result.duplicates,
                    "bad_files": [p.__dict__ for p in result.problems],
                    "warnings": result.warnings[:1000],
                },
                indent=2,
            )
        )
    written["summary"] = summary_path
    return written
