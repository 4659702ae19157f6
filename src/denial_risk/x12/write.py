"""Write a contract claim table as 837P (5010 X222A1) and 835 (5010 X221A1) files.

For the simulator: `write_837p(claims, path)` writes what was billed,
`write_835(claims, path)` what the payer did (the `denied`, `denial_reason`
and `paid_amount` labels, and `remark_codes` as line remarks `LQ*HE` when the
table has them). Segments are built as pyx12 `Segment`s and written
through `pyx12.x12file.X12Writer`, which also closes every transaction,
group and interchange with the right SE/GE/IEA counts. The files pass
pyx12's implementation-guide validation (`x12n_document`; see the tests).

Big tables are split: at most `claims_per_transaction` claims per ST/SE
(5,000 is the guides' recommendation) and `claims_per_file` claims per file;
when more than one file is needed they are named `<stem>.0001<suffix>`, ...
Both functions return the paths written.

What X12 cannot carry, and so does not round-trip (docs/x12.md): a false
documentation flag (a PWK says a document exists, nothing says one is
missing: false and unknown both read back as unknown), `prior_same_code_12m`,
the raw `patient_id` (read back as a salted hash), more than 12 diagnoses per
claim or 4 per line, and line numbers that are not 1..n within a claim.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyx12.segment
import pyx12.x12file

from denial_risk.x12.codes import FLAG_TO_PWK, PAYER_TYPE_TO_CLP06, PAYER_TYPE_TO_FILING_INDICATOR

SEG, ELE, SUB = "~", "*", ":"
VERSION_837P = "005010X222A1"
VERSION_835 = "005010X221A1"
_PLACEHOLDER_NPI = "1999999984"  # a check-digit-valid NPI used when provider_id is unknown
REVERSAL = "22"  # CLP02 of a reversal; a table row with remit_status 22 is written as one


def _s(text: str) -> pyx12.segment.Segment:
    return pyx12.segment.Segment(text, SEG, ELE, SUB)


def _amt(x) -> str:
    return f"{float(x):.2f}"


def _d8(value) -> str:
    return pd.Timestamp(value).strftime("%Y%m%d")


def _clean(value, default: str = "") -> str:
    """An element value without X12 delimiters."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return default
    text = str(value).strip()
    for ch in (SEG, ELE, SUB, "^"):
        text = text.replace(ch, " ")
    return text or default


def _is_true(value) -> bool:
    return (
        value is not None
        and value is not pd.NA
        and not (isinstance(value, float) and math.isnan(value))
        and bool(value)
    )


def _split_list(value) -> list[str]:
    text = _clean(value)
    if not text:
        return []
    for sep in (",", " "):
        text = text.replace(sep, "|")
    return [t for t in (p.strip().upper() for p in text.split("|")) if t]


def _prepare(claims: pd.DataFrame) -> pd.DataFrame:
    df = claims.copy()
    for c in ("service_date", "submission_date"):
        if c in df:
            df[c] = pd.to_datetime(df[c], errors="coerce", format="mixed")
        else:
            df[c] = pd.NaT
    if "line_number" not in df:
        df["line_number"] = df.groupby("claim_id", sort=False).cumcount() + 1
    df["_order"] = range(len(df))
    return df


def _claim_groups(df: pd.DataFrame) -> list[list[dict]]:
    """Claims in first-appearance order (each a list of line records), lines sorted by line_number."""
    groups: dict[str, list[dict]] = {}
    for rec in df.to_dict("records"):  # a reversal (remit_status 22) is a claim of its own
        groups.setdefault(f"{rec['claim_id']}\x00{_clean(rec.get('remit_status'))}", []).append(rec)
    out = []
    for lines in groups.values():
        lines.sort(key=lambda r: (r["line_number"] if not pd.isna(r["line_number"]) else 0, r["_order"]))
        out.append(lines)
    return out


def _max_date(lines: list[dict], column: str):
    dates = [r[column] for r in lines if not pd.isna(r[column])]
    return max(dates) if dates else pd.NaT


def _file_paths(path: str | os.PathLike, n_files: int) -> list[Path]:
    p = Path(path)
    if n_files <= 1:
        return [p]
    stem = p.name[: len(p.name) - len(p.suffix)] if p.suffix else p.name
    return [p.with_name(f"{stem}.{i:04d}{p.suffix}") for i in range(1, n_files + 1)]


def _chunks(seq: list, size: int) -> Iterator[list]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def _interchange_date(groups: list[list[dict]]) -> pd.Timestamp:
    dates = [_max_date(g, "submission_date") for g in groups] + [_max_date(g, "service_date") for g in groups]
    dates = [d for d in dates if not pd.isna(d)]
    return max(dates) if dates else pd.Timestamp("2000-01-01")


def _open(writer_path: Path) -> tuple[io.StringIO, pyx12.x12file.X12Writer]:
    buf = io.StringIO()
    return buf, pyx12.x12file.X12Writer(buf, SEG, ELE, SUB, "\n", "^")


def _isa_gs(w, fic: str, version: str, when: pd.Timestamp, control: int) -> None:
    w.Write(
        _s(
            f"ISA*00*{'':10}*00*{'':10}*ZZ*{'DENIALRISK':15}*ZZ*{'RECEIVER':15}*"
            f"{when.strftime('%y%m%d')}*1200*^*00501*{control:09d}*0*T*:"
        )
    )
    w.Write(_s(f"GS*{fic}*DENIALRISK*RECEIVER*{when.strftime('%Y%m%d')}*1200*{control}*X*{version}"))


def _finish(buf: io.StringIO, w, target: Path) -> None:
    from denial_risk.tableio.files import atomic_path

    w.close()
    with atomic_path(target) as tmp:
        tmp.write_text(buf.getvalue(), encoding="ascii")


def write_837p(
    claims: pd.DataFrame,
    path: str | os.PathLike,
    *,
    claims_per_transaction: int = 5000,
    claims_per_file: int = 20000,
) -> list[Path]:
    """Write the claim lines as 837P professional claims; returns the files written."""
    df = _prepare(claims)
    groups = _claim_groups(df)
    file_groups = list(_chunks(groups, claims_per_file)) or [[]]
    paths = _file_paths(path, len(file_groups))
    for fno, (target, fgroups) in enumerate(zip(paths, file_groups), start=1):
        buf, w = _open(target)
        when = _interchange_date(fgroups)
        _isa_gs(w, "HC", VERSION_837P, when, fno)
        # BHT04 (the transaction's creation date) is the claims' submission date:
        # one transaction per submission date, split by size
        by_date: dict[pd.Timestamp, list[list[dict]]] = {}
        for g in fgroups:
            sub = g[0]["submission_date"]
            if pd.isna(sub):
                sub = _max_date(g, "service_date")
            by_date.setdefault(when if pd.isna(sub) else pd.Timestamp(sub), []).append(g)
        tno = 0
        for day, dgroups in by_date.items():
            for tgroups in _chunks(dgroups, claims_per_transaction):
                tno += 1
                _write_837_transaction(w, tgroups, tno, day)
        _finish(buf, w, target)
    return paths


def _write_837_transaction(w, groups: list[list[dict]], tno: int, when: pd.Timestamp) -> None:
    w.Write(_s(f"ST*837*{tno:04d}*{VERSION_837P}"))
    w.Write(_s(f"BHT*0019*00*{tno:04d}*{when.strftime('%Y%m%d')}*1200*CH"))
    w.Write(_s("NM1*41*2*DENIAL RISK SIMULATOR*****46*DENIALRISK"))
    w.Write(_s("PER*IC*BILLING*TE*5555550100"))
    w.Write(_s("NM1*40*2*RECEIVER*****46*RECEIVER"))
    hl = 0
    # billing providers in first-appearance order, their claims below them
    by_provider: dict[str, list[list[dict]]] = {}
    for g in groups:
        by_provider.setdefault(_clean(g[0].get("provider_id"), _PLACEHOLDER_NPI), []).append(g)
    for npi, pgroups in by_provider.items():
        hl += 1
        parent = hl
        w.Write(_s(f"HL*{parent}**20*1"))
        w.Write(_s(f"NM1*85*2*BILLING PROVIDER*****XX*{npi}"))
        w.Write(_s("N3*1 MAIN ST"))
        w.Write(_s("N4*SPRINGFIELD*IL*627010000"))
        w.Write(_s("REF*EI*123456789"))
        for g in pgroups:
            hl += 1
            first = g[0]
            w.Write(_s(f"HL*{hl}*{parent}*22*0"))
            filing = PAYER_TYPE_TO_FILING_INDICATOR.get(_clean(first.get("payer_type")).lower(), "ZZ")
            w.Write(_s(f"SBR*P*18*******{filing}"))
            member = _clean(first.get("patient_id"), f"UNKNOWN{_clean(first['claim_id'])}")
            w.Write(_s(f"NM1*IL*1*PATIENT*MEMBER****MI*{member}"))
            payer = _clean(first.get("payer_id"), "UNKNOWN")
            w.Write(_s(f"NM1*PR*2*PAYER*****PI*{payer}"))
            _write_837_claim(w, g)
    w.Write(_s(f"SE*0*{tno:04d}"))


def _write_837_claim(w, g: list[dict]) -> None:
    first = g[0]
    pos = _clean(first.get("place_of_service"), "12")
    total = sum(float(r["billed_amount"]) for r in g)
    freq = _clean(first.get("claim_frequency"), "1")  # 7: a replacement of the claim in REF*F8
    w.Write(_s(f"CLM*{_clean(first['claim_id'])}*{_amt(total)}***{pos}:B:{freq}*Y*A*Y*Y"))
    if _clean(first.get("original_claim_ref")):
        w.Write(_s(f"REF*F8*{_clean(first.get('original_claim_ref'))}"))
    # claim diagnoses: union of the lines' codes in order (max 12)
    dx: list[str] = []
    for value in (r.get("diagnosis_codes") for r in g):
        for code in _split_list(value):
            code = code.replace(".", "")
            if code not in dx:
                dx.append(code)
    dx = dx[:12]
    if dx:
        w.Write(_s("HI*" + "*".join(("ABK:" if i == 0 else "ABF:") + c for i, c in enumerate(dx))))
    for lx, line in enumerate(g, start=1):
        codes = [c.replace(".", "") for c in _split_list(line.get("diagnosis_codes"))]
        pointers = [str(dx.index(c) + 1) for c in codes if c in dx][:4]
        mods = _split_list(line.get("modifiers"))[:4]
        proc = ":".join(["HC", _clean(line["hcpcs_code"]).upper(), *mods])
        units = line.get("units")
        units = 1 if units is None or pd.isna(units) else int(units)
        line_pos = _clean(line.get("place_of_service"), pos)
        sv105 = line_pos if line_pos != pos else ""
        w.Write(_s(f"LX*{lx}"))
        w.Write(
            _s(
                f"SV1*{proc}*{_amt(line['billed_amount'])}*UN*{units}*{sv105}**{':'.join(pointers) or '1'}"
                if pointers
                else f"SV1*{proc}*{_amt(line['billed_amount'])}*UN*{units}*{sv105}"
            )
        )
        for flag, code in FLAG_TO_PWK.items():
            if _is_true(line.get(flag)):
                w.Write(_s(f"PWK*{code}*AA"))
        if not pd.isna(line["service_date"]):
            w.Write(_s(f"DTP*472*D8*{_d8(line['service_date'])}"))
        if _is_true(line.get("has_prior_auth")):
            w.Write(_s(f"REF*G1*PA{_clean(first['claim_id'])}"))
        w.Write(_s(f"REF*6R*{_line_control(line)}"))


def _line_control(line) -> str:
    return f"{_clean(line['claim_id'])}-{int(line['line_number'])}"[-50:]


def write_835(
    claims: pd.DataFrame,
    path: str | os.PathLike,
    *,
    claims_per_transaction: int = 5000,
    claims_per_file: int = 20000,
) -> list[Path]:
    """Write the outcomes (denied, denial_reason, paid_amount) as 835 remittances; returns the files."""
    df = _prepare(claims)
    groups = _claim_groups(df)
    file_groups = list(_chunks(groups, claims_per_file)) or [[]]
    paths = _file_paths(path, len(file_groups))
    for fno, (target, fgroups) in enumerate(zip(paths, file_groups), start=1):
        buf, w = _open(target)
        when = _interchange_date(fgroups)
        _isa_gs(w, "HP", VERSION_835, when, fno)
        # one transaction per payer (an 835 comes from one payer) and remit date (the table's
        # `adjudication_date`, when it has one: DTM*405 and BPR16), split by size
        by_payer: dict[tuple[str, pd.Timestamp], list[list[dict]]] = {}
        for g in fgroups:
            dated = g[0].get("adjudication_date")
            day = when if dated is None or pd.isna(dated) else pd.Timestamp(dated)
            by_payer.setdefault((_clean(g[0].get("payer_id"), "UNKNOWN"), day), []).append(g)
        tno = 0
        for (payer, day), pgroups in by_payer.items():
            for tgroups in _chunks(pgroups, claims_per_transaction):
                tno += 1
                _write_835_transaction(w, tgroups, tno, payer, day)
        _finish(buf, w, target)
    return paths


def _line_payment(line) -> tuple[float, float, list[tuple[str, str, float]]]:
    """(charge, paid, adjustments) of one line, balanced: charge - sum(adjustments) = paid."""
    charge = float(line["billed_amount"])
    denied = _is_true(line.get("denied"))
    paid = line.get("paid_amount")
    if paid is None or pd.isna(paid):
        paid = 0.0 if denied else charge
    paid = round(float(paid), 2)
    rest = round(charge - paid, 2)
    adj: list[tuple[str, str, float]] = []
    reason = _clean(line.get("denial_reason"))
    if denied:
        group, _, code = reason.partition("-") if "-" in reason else ("CO", "", "16")
        if rest > 0:
            adj.append((group.upper() or "CO", code.upper() or "16", rest))
    elif rest > 0:
        if paid == 0:
            adj.append(("PR", "1", rest))  # all deductible: a zero payment that is not a denial
        else:
            adj.append(("CO", "45", rest))  # contractual reduction
    elif rest < 0:
        adj.append(("OA", "94", rest))  # processed in excess of charges
    return charge, paid, adj


def _write_835_transaction(w, groups: list[list[dict]], tno: int, payer: str, when: pd.Timestamp) -> None:
    claims = []
    total = 0.0
    for g in groups:
        lines = [(line, *_line_payment(line)) for line in g]
        if _clean(g[0].get("remit_status")) == REVERSAL:  # cancels the claim's earlier adjudication
            lines = [(ln, -c, -p, [(gr, code, -a) for gr, code, a in adj]) for ln, c, p, adj in lines]
        total += sum(paid for _, _, paid, _ in lines)
        claims.append((g, lines))
    d = when.strftime("%Y%m%d")
    w.Write(_s(f"ST*835*{tno:04d}"))
    if total > 0:
        w.Write(_s(f"BPR*I*{_amt(total)}*C*CHK************{d}"))
    else:
        w.Write(_s(f"BPR*H*0*C*NON************{d}"))
    w.Write(_s(f"TRN*1*{tno:010d}*1234567890"))
    w.Write(_s(f"DTM*405*{d}"))
    w.Write(_s("N1*PR*PAYER"))
    w.Write(_s("N3*1 PAYER WAY"))
    w.Write(_s("N4*SPRINGFIELD*IL*627010000"))
    w.Write(_s(f"REF*2U*{payer}"))
    w.Write(_s("PER*BL*PROVIDER SERVICES*TE*5555550199"))
    providers = {_clean(g[0].get("provider_id"), _PLACEHOLDER_NPI) for g, _ in claims}
    npi = sorted(providers)[0] if len(providers) == 1 else _PLACEHOLDER_NPI
    w.Write(_s(f"N1*PE*BILLING PROVIDER*XX*{npi}"))
    w.Write(_s("LX*1"))
    for g, lines in claims:
        first = g[0]
        charge = sum(c for _, c, _, _ in lines)
        paid = sum(p for _, _, p, _ in lines)
        patient_resp = sum(a for _, _, _, adj in lines for grp, _, a in adj if grp == "PR")
        status = "4" if all(_is_true(line.get("denied")) for line, *_ in lines) else "1"
        status = REVERSAL if _clean(first.get("remit_status")) == REVERSAL else status
        filing = PAYER_TYPE_TO_CLP06.get(_clean(first.get("payer_type")).lower(), "ZZ")
        cid = _clean(first["claim_id"])
        w.Write(_s(f"CLP*{cid}*{status}*{_amt(charge)}*{_amt(paid)}*{_amt(patient_resp)}*{filing}*{cid}"))
        member = _clean(first.get("patient_id"), f"UNKNOWN{cid}")
        w.Write(_s(f"NM1*QC*1*PATIENT*MEMBER****MI*{member}"))
        if not pd.isna(first["submission_date"]):
            w.Write(_s(f"DTM*050*{_d8(first['submission_date'])}"))
        for line, lcharge, lpaid, adj in lines:
            mods = _split_list(line.get("modifiers"))[:4]
            proc = ":".join(["HC", _clean(line["hcpcs_code"]).upper(), *mods])
            units = line.get("units")
            units = 1 if units is None or pd.isna(units) else int(units)
            w.Write(_s(f"SVC*{proc}*{_amt(lcharge)}*{_amt(lpaid)}**{units}"))
            if not pd.isna(line["service_date"]):
                w.Write(_s(f"DTM*472*{_d8(line['service_date'])}"))
            for grp, code, amount in adj:
                w.Write(_s(f"CAS*{grp}*{code}*{_amt(amount)}"))
            w.Write(_s(f"REF*6R*{_line_control(line)}"))
            for code in _split_list(line.get("remark_codes")):
                w.Write(_s(f"LQ*HE*{code}"))  # remark codes (RARCs), all at the line
    w.Write(_s(f"SE*0*{tno:04d}"))
