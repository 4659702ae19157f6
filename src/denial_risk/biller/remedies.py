"""The fixes a biller can truthfully make to a claim line: what each removes, where it applies, how it edits.

A remedy is a change to the line itself: a modifier added or removed, a line split, a
diagnosis put first or dropped, a document attached, prior authorization obtained,
eligibility verified, the ordering NPI corrected from the order, the face-to-face note
attached. Never the payer, the patient or the date of service, and never a record
written after the fact: a remedy that depends on what the record holds says so
("if they were recorded", "if the visit took place").

Per line, `candidates` gives each remedy's `present` mask (the line shows the defect),
`unknown` mask (its record does not say: a document whose status is unknown), the
`cell` its effect is learned in (a payer, with the policy group or the Medicare program
where requirements differ by them), and whether it is `truthful` for the line (KX only
when the record meets the policy; Medicare prior authorization only for a code in the
program on the date of service). Whether a remedy truly lowers the risk is learned from
remittances per cell (`modeling.effects`), not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.contract import schema
from denial_risk.contract.facts import LineFacts, diagnosis_problems, npi_valid, split_list_value

RENTAL_GROUPS = ("pap_device", "hospital_bed", "manual_wheelchair")  # rented: RR; the rest bought: NU
ORTHOSES = ("spinal_orthosis", "knee_orthosis", "ankle_foot_orthosis", "upper_limb_orthosis")
DOCUMENTS = ("has_prescription", "has_progress_notes", "has_medical_necessity_letter",
             "has_proof_of_delivery",
             "has_measurements")  # fmt: skip


@dataclass(frozen=True)
class Remedy:
    name: str
    carcs: tuple[str, ...]  # the denials it can remove (group-CARC)
    cell: str  # how its effect is keyed: payer, payer_group, payer_units (and the RT/LT rule), payer_pa
    alternatives: tuple[str, ...] = ("",)  # e.g. which side: the risk stated is the worst of them
    # The defect is there only with some probability (eligibility never checked): the fix removes a chance
    # of a denial, not a shift of the line's logit. A status the record does not show is the same.
    uncertain: bool = False


REMEDIES: dict[str, Remedy] = {
    r.name: r
    for r in (
        Remedy("add_side", ("CO-4",), "payer", ("RT", "LT")),
        Remedy("split_rtlt", ("CO-4",), "payer_units", ("RT", "LT")),
        Remedy("add_kx", ("CO-4",), "payer"),
        Remedy("remove_kx", ("CO-4",), "payer"),
        Remedy("add_cg", ("CO-4",), "payer"),
        Remedy("add_purchase_modifier", ("CO-4",), "payer_group"),
        Remedy("rr_to_nu", ("CO-4",), "payer"),
        Remedy("primary_dx", ("CO-11",), "payer"),
        Remedy("drop_invalid_dx", ("CO-16",), "payer"),
        Remedy("attach:has_prescription", ("CO-16", "CO-50"), "payer_group"),
        Remedy("attach:has_progress_notes", ("CO-50", "CO-16"), "payer_group"),
        Remedy("attach:has_medical_necessity_letter", ("CO-50",), "payer_group"),
        Remedy("attach:has_proof_of_delivery", ("CO-16",), "payer_group"),
        Remedy(
            "attach:has_measurements", ("CO-16",), "payer"
        ),  # custom-fabricated items only: one cell a payer
        # CO-197 only: CARC 15 is deactivated in the X12 list the project ships (carc.csv); Noridian
        # sends CO-197 with N210 for a missing prior authorization (a missing UTN).
        Remedy("obtain_prior_auth", ("CO-197",), "payer_pa"),
        Remedy("verify_eligibility", ("CO-31", "CO-27", "CO-22"), "payer", uncertain=True),
        Remedy("correct_ordering_npi", ("CO-16",), "payer"),
        Remedy("attach_face_to_face", ("CO-50",), "payer", uncertain=True),
    )
}


@dataclass(frozen=True)
class Candidates:
    """Per remedy, per line: the defect shown, the status unknown, truthful to advise, its cell."""

    present: dict[str, np.ndarray]
    unknown: dict[str, np.ndarray]
    truthful: dict[str, np.ndarray]
    cells: dict[str, np.ndarray]  # object arrays of cell keys

    def applies(self, name: str) -> np.ndarray:
        return (self.present[name] | self.unknown[name]) & self.truthful[name]


def _flag(clean: pd.DataFrame, col: str) -> np.ndarray:
    """1.0 / 0.0 / NaN."""
    if col not in clean.columns:
        return np.full(len(clean), np.nan)
    return clean[col].astype("boolean").to_numpy(dtype="float64", na_value=np.nan)


def _text(clean: pd.DataFrame, col: str) -> np.ndarray:
    if col not in clean.columns:
        return np.full(len(clean), "", dtype=object)
    return clean[col].astype("string").fillna("").to_numpy(dtype=object)


def candidates(clean: pd.DataFrame, facts: LineFacts) -> Candidates:
    """Every remedy's masks and cells for normalised lines (aligned on their positions)."""
    n = len(clean)
    m, rules = facts.mods, facts.rules
    ptype = _text(clean, "payer_type")
    payer = _text(clean, "payer_id")
    group = facts.policy["policy_group"].astype("string").fillna("(no policy)").to_numpy(dtype=object)
    medicare_like = np.isin(ptype, schema.MEDICARE_TYPES)
    units = (
        clean["units"].astype("Float64").fillna(1.0).to_numpy(dtype=float) if "units" in clean else np.ones(n)
    )
    both = m["RT"] & m["LT"]
    docs = {d: _flag(clean, d) for d in (*DOCUMENTS, "has_prior_auth")}
    record_meets = (docs["has_prescription"] == 1.0) & (docs["has_progress_notes"] == 1.0)
    sup = facts.support
    rental = np.isin(group, RENTAL_GROUPS)
    dx_bad = facts.invalid_dx.to_numpy(dtype=object)
    dx_left = facts.valid_dx_left.to_numpy(dtype=object)
    eligibility = _flag(clean, "eligibility_verified")
    npi = npi_valid(clean["ordering_npi"]) if "ordering_npi" in clean else np.full(n, np.nan)
    f2f_known = (
        clean["face_to_face_date"].notna().to_numpy() if "face_to_face_date" in clean else np.zeros(n, bool)
    )
    program = rules["prior_auth"]
    present = {
        "add_side": facts.flag("sided") & ~(m["RT"] | m["LT"] | m["50"]),
        "split_rtlt": both,
        "add_kx": facts.medicare_list["kx_required"] & medicare_like & ~m["KX"] & ~m["conflict"],
        "remove_kx": m["KX"] & m["conflict"],
        "add_cg": facts.medicare_list["cg_required"] & medicare_like & ~m["CG"],
        "add_purchase_modifier": (group != "(no policy)") & ~(m["NU"] | m["RR"] | m["UE"]),
        "rr_to_nu": np.isin(group, ORTHOSES) & m["RR"],
        "primary_dx": (sup["primary_supports"].eq(False) & sup["any_supports"].eq(True))
        .fillna(False)
        .to_numpy(bool),
        "drop_invalid_dx": (dx_bad != "") & (dx_left != ""),
        "verify_eligibility": eligibility == 0.0,
        "correct_ordering_npi": npi == 0.0,
        "attach_face_to_face": np.zeros(n, dtype=bool),
        "obtain_prior_auth": docs["has_prior_auth"] == 0.0,
    }
    unknown = {name: np.zeros(n, dtype=bool) for name in present}
    unknown["verify_eligibility"] = np.isnan(eligibility)
    unknown["attach_face_to_face"] = rules["face_to_face_wopd"] & ~f2f_known
    unknown["obtain_prior_auth"] = np.isnan(docs["has_prior_auth"])
    custom = facts.flag("custom_fabricated")
    for d in DOCUMENTS:
        wanted = custom if d == "has_measurements" else np.ones(n, dtype=bool)
        present[f"attach:{d}"] = wanted & (docs[d] == 0.0)
        unknown[f"attach:{d}"] = wanted & np.isnan(docs[d])
    truthful = {name: np.ones(n, dtype=bool) for name in present}
    truthful["add_kx"] = record_meets  # KX attests the policy's criteria are met and documented
    truthful["correct_ordering_npi"] = docs["has_prescription"] == 1.0  # the order shows the right NPI
    truthful["obtain_prior_auth"] = np.where(
        ptype == "medicare", program, True
    )  # outside the program: nothing
    truthful["add_purchase_modifier"] = ~rental | ~medicare_like  # Medicare rentals carry RR with KH/KI/KJ
    cells = _cells(payer, group, ptype, units, program, facts)
    return Candidates(present, unknown, truthful, cells)


def _cells(payer, group, ptype, units, program, facts: LineFacts) -> dict[str, np.ndarray]:
    """Each remedy's cell per line: where its effect is learned apart (`Remedy.cell`)."""
    # RT and LT on one line: Medicare's separate-lines rule binds some codes from 2019-03-01; others may
    # follow it, or object only to one unit for two sides. The cell tells them apart.
    units_key = np.char.add(
        np.where(units >= 2, "units>=2", "units=1"),
        np.where(facts.medicare_list["rt_lt_separate_lines"], "|separate-lines rule", ""),
    )
    cells = {}
    for name, r in REMEDIES.items():
        if r.cell == "payer":
            cells[name] = payer
        elif r.cell == "payer_group":
            cells[name] = np.char.add(np.char.add(payer.astype(str), "|"), group.astype(str)).astype(object)
        elif r.cell == "payer_units":
            cells[name] = np.char.add(np.char.add(payer.astype(str), "|"), units_key).astype(object)
        else:  # payer_pa: Medicare by its dated program, other payers by group
            key = np.where(
                ptype == "medicare", np.where(program, "medicare PA program", "outside the program"), group
            )
            cells[name] = np.char.add(np.char.add(payer.astype(str), "|"), key.astype(str)).astype(object)
    return cells


# --------------------------------------------------------------------------- editing the line


def _with_modifier(mods: pd.Series, add: str | None = None, drop: tuple[str, ...] = ()) -> pd.Series:
    s = mods.astype("string").fillna("")
    codes, uni = pd.factorize(s, use_na_sentinel=False)
    out = []
    for v in uni:
        lst = [x for x in split_list_value(v) if x not in drop]
        if add and add not in lst:
            lst.append(add)
        out.append(schema.LIST_SEP.join(lst))
    return pd.Series(np.asarray(out, dtype=object)[codes], index=mods.index, dtype="string")


def _primary_first(dx: pd.Series, first: pd.Series) -> pd.Series:
    out = []
    for v, c in zip(dx.astype("string").fillna(""), first.astype("string").fillna("")):
        lst = split_list_value(v)
        out.append(schema.LIST_SEP.join([c, *[x for x in lst if x != c]]) if c and c in lst else v)
    return pd.Series(out, index=dx.index, dtype="string")


def _corrected_npi(values: pd.Series) -> pd.Series:
    """The NPI with its check digit recomputed: what the order shows when a digit was mistyped at the end."""
    from denial_risk.contract.facts import _npi_ok

    out = []
    for v in values.astype("string").fillna(""):
        fixed = next((v[:9] + str(d) for d in range(10) if len(v) == 10 and _npi_ok(v[:9] + str(d))), v)
        out.append(fixed or None)
    return pd.Series(out, index=values.index, dtype="string")


def apply(frame: pd.DataFrame, name: str, alternative: str = "") -> pd.DataFrame:
    """The normalised lines with the remedy made (`alternative`: e.g. which side). Only the line changes."""
    out = frame.copy()
    kind, _, doc = name.partition(":")
    if name == "add_side":
        out["modifiers"] = _with_modifier(out["modifiers"], add=alternative or "RT")
    elif name == "split_rtlt":
        keep = alternative or "RT"
        out["modifiers"] = _with_modifier(out["modifiers"], drop=("LT" if keep == "RT" else "RT",))
        out["units"] = pd.array(
            np.maximum(out["units"].astype("Float64").fillna(1).to_numpy() // 2, 1).astype("int64"),
            dtype="Int64",
        )
    elif name == "add_kx":
        out["modifiers"] = _with_modifier(out["modifiers"], add="KX")
    elif name == "remove_kx":
        out["modifiers"] = _with_modifier(out["modifiers"], drop=("KX",))
    elif name == "add_cg":
        out["modifiers"] = _with_modifier(out["modifiers"], add="CG")
    elif name == "add_purchase_modifier":
        group = LineFacts.of(out).policy["policy_group"].astype("string").fillna("")
        rental = group.isin(RENTAL_GROUPS).to_numpy(dtype=bool)
        nu = _with_modifier(out["modifiers"], add="NU")
        rr = _with_modifier(out["modifiers"], add="RR")
        out["modifiers"] = pd.Series(np.where(rental, rr, nu), index=out.index, dtype="string")
    elif name == "rr_to_nu":
        out["modifiers"] = _with_modifier(
            _with_modifier(out["modifiers"], drop=("RR", "KH", "KI", "KJ")), add="NU"
        )
    elif name == "primary_dx":
        facts = LineFacts.of(out)
        out["diagnosis_codes"] = _primary_first(
            out["diagnosis_codes"], facts.support["first_supporting_code"]
        )
    elif name == "drop_invalid_dx":
        out["diagnosis_codes"] = diagnosis_problems(out["diagnosis_codes"])[2].astype("string")
    elif kind == "attach" and doc in DOCUMENTS:
        out[doc] = pd.array([True] * len(out), dtype="boolean")
    elif name == "obtain_prior_auth":
        out["has_prior_auth"] = pd.array([True] * len(out), dtype="boolean")
    elif name == "verify_eligibility":
        out["eligibility_verified"] = pd.array([True] * len(out), dtype="boolean")
    elif name == "correct_ordering_npi":
        out["ordering_npi"] = _corrected_npi(out["ordering_npi"])
    elif name == "attach_face_to_face":
        ref = out["order_date"].fillna(out["service_date"]) if "order_date" in out else out["service_date"]
        out["face_to_face_date"] = pd.to_datetime(ref) - pd.Timedelta(days=30)
    else:
        raise ValueError(f"unknown remedy {name!r}")
    return out
