"""normalize_chunk: every accepted form of the contract → canonical values; every reject reason.

The contract is ../shared/claims-schema.md; the canonical forms are in
docs/architecture.md ("The normalised frame") and schema.NORMALISED_DTYPES.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from denial_risk.contract import schema
from denial_risk.contract.duplicates import DuplicateTracker
from denial_risk.contract.normalize import (
    REJECT_REASON,
    check_required_columns,
    normalize_chunk,
)
from denial_risk.errors import UserError

BASE = {
    "claim_id": "C1",
    "service_date": "2024-03-05",
    "payer_type": "medicare",
    "hcpcs_code": "L0627",
    "modifiers": "KX",
    "diagnosis_codes": "M54.50",
    "billed_amount": "100.00",
}


def frame(*rows: dict, **defaults) -> pd.DataFrame:
    """Raw chunk as the CSV reader gives it: every cell a string ("" when empty)."""
    base = {**BASE, **defaults}
    records = []
    for i, row in enumerate(rows):
        rec = {**base, "claim_id": f"C{i}", **row}
        records.append({k: v for k, v in rec.items() if v is not None})
    cols = list(dict.fromkeys(k for r in records for k in r))
    return pd.DataFrame({c: pd.Series([r.get(c, "") for r in records], dtype="str") for c in cols})


def one(column: str, value, **other) -> pd.Series:
    """Normalise a single row with `column=value`; return the clean row (fails if rejected)."""
    clean, rejects = normalize_chunk(frame({column: value, **other}))
    assert rejects.empty, rejects[REJECT_REASON].tolist()
    return clean.iloc[0]


def reasons(*rows: dict, **defaults) -> list[str | None]:
    """Reject reason per input row (None = scorable)."""
    clean, rejects = normalize_chunk(frame(*rows, **defaults))
    assert len(clean) + len(rejects) == len(rows)
    got = rejects[REJECT_REASON].to_dict()
    return [got.get(i) for i in range(len(rows))]


# --- accepted forms -------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("KX|RT", "KX|RT"),
        ("kx,rt", "KX|RT"),
        ("KX RT", "KX|RT"),
        ("kx, Rt | lt", "KX|RT|LT"),
        ("  KX  ", "KX"),
        ("KX|kx|RT", "KX|RT"),  # duplicates dropped, order kept
        ("rt|kx", "RT|KX"),  # input order kept
        ("GA,GZ,NU,99", "GA|GZ|NU|99"),
        ("KX\tRT", "KX|RT"),
        ("", ""),  # empty = none (not unknown)
        ("|,", ""),
    ],
)
def test_modifier_separators_and_case(raw, expected):
    assert one("modifiers", raw)["modifiers"] == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("M54.50", "M5450"),
        ("M5450", "M5450"),
        ("m54.50", "M5450"),
        ("M54.50|M48.06", "M5450|M4806"),
        ("m54.50, M48.062", "M5450|M48062"),
        ("M5450 M4806", "M5450|M4806"),
        ("M48.06,M54.50", "M4806|M5450"),  # primary stays first
        ("M54.50|M5450", "M5450"),  # dotted and undotted are the same code
        ("", ""),
    ],
)
def test_diagnosis_codes_dotted_undotted_any_separator(raw, expected):
    assert one("diagnosis_codes", raw)["diagnosis_codes"] == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("medicare", "medicare"),
        ("MEDICARE", "medicare"),
        (" Medicare ", "medicare"),
        ("medicare_advantage", "medicare_advantage"),
        ("Medicare Advantage", "medicare_advantage"),
        ("MEDICAID", "medicaid"),
        ("Commercial", "commercial"),
        ("other", "other"),
        ("OTHER", "other"),
        ("blue cross", "other"),  # anything unrecognised is `other`
    ],
)
def test_payer_type_case_insensitive(raw, expected):
    assert one("payer_type", raw)["payer_type"] == expected


def test_payer_type_empty_is_unknown():
    assert one("payer_type", "")["payer_type"] is pd.NA


@pytest.mark.parametrize(
    "raw, expected",
    [("l0627", "L0627"), (" L0627 ", "L0627"), ("97760", "97760"), ("e0601", "E0601"), ("L1320", "L1320")],
)
def test_hcpcs_case(raw, expected):
    assert one("hcpcs_code", raw)["hcpcs_code"] == expected


TRUE_SPELLINGS = ["true", "TRUE", "True", "1", "yes", "YES", "Yes", "y", "Y", "t", "T", " true "]
FALSE_SPELLINGS = ["false", "FALSE", "False", "0", "no", "NO", "No", "n", "N", "f", "F", " no "]


@pytest.mark.parametrize("flag", schema.BOOLEAN_COLUMNS)
def test_every_boolean_spelling(flag):
    values = TRUE_SPELLINGS + FALSE_SPELLINGS + ["", "  "]
    clean, rejects = normalize_chunk(frame(*({flag: v} for v in values)))
    assert rejects.empty
    assert str(clean[flag].dtype) == "boolean"
    got = clean[flag].tolist()
    assert got[: len(TRUE_SPELLINGS)] == [True] * len(TRUE_SPELLINGS)
    assert got[len(TRUE_SPELLINGS) : -2] == [False] * len(FALSE_SPELLINGS)
    # empty is unknown, never False
    assert clean[flag].iloc[-2:].isna().all()


def test_unrecognised_boolean_is_unknown_not_a_reject():
    row = one("has_prior_auth", "maybe")
    assert row["has_prior_auth"] is pd.NA


@pytest.mark.parametrize(
    "raw",
    [
        "2024-03-05",
        "20240305",
        " 2024-03-05 ",
        "2024-03-05T10:30:00",
        "2024-03-05 10:30",
        "2024-03-05T10:30:00Z",
    ],
)
def test_dates_iso_and_yyyymmdd(raw):
    assert one("service_date", raw)["service_date"] == pd.Timestamp("2024-03-05")


def test_submission_date_parsed_and_empty_is_nat():
    clean, rejects = normalize_chunk(frame({"submission_date": "20240310"}, {"submission_date": ""}))
    assert rejects.empty
    assert clean["submission_date"].iloc[0] == pd.Timestamp("2024-03-10")
    assert pd.isna(clean["submission_date"].iloc[1])


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("100", 100.0),
        ("100.5", 100.5),
        ("$1,234.50", 1234.5),
        ("1,234.50", 1234.5),
        ("$ 99", 99.0),
        ("$1,234,567.00", 1234567.0),
        ("0", 0.0),
        ("0.00", 0.0),
        (" 12.00 ", 12.0),
        (".5", 0.5),
    ],
)
def test_amounts(raw, expected):
    assert one("billed_amount", raw)["billed_amount"] == pytest.approx(expected)


def test_optional_columns_absent_are_unknown_not_zero_or_false():
    clean, rejects = normalize_chunk(frame({}))
    assert rejects.empty
    row = clean.iloc[0]
    for flag in schema.BOOLEAN_COLUMNS:
        assert row[flag] is pd.NA, flag
    for name in ("patient_id", "provider_id", "payer_id", "place_of_service", "denial_reason"):
        assert row[name] is pd.NA, name
    assert pd.isna(row["submission_date"])
    assert row["prior_same_code_12m"] is pd.NA
    assert np.isnan(row["paid_amount"])
    # the two documented defaults
    assert row["line_number"] == 1
    assert row["units"] == 1


def test_optional_columns_empty_are_unknown():
    clean, _ = normalize_chunk(
        frame(
            {"prior_same_code_12m": "", "has_photos": "", "paid_amount": "", "patient_id": " ", "denied": ""}
        )
    )
    row = clean.iloc[0]
    assert row["prior_same_code_12m"] is pd.NA
    assert row["has_photos"] is pd.NA
    assert row["denied"] is pd.NA
    assert np.isnan(row["paid_amount"])
    assert row["patient_id"] is pd.NA


def test_line_number_defaults_to_1_and_parses():
    clean, rejects = normalize_chunk(frame({"line_number": ""}, {"line_number": "2"}, {"line_number": "3.0"}))
    assert rejects.empty
    assert clean["line_number"].tolist() == [1, 2, 3]


@pytest.mark.parametrize("bad", ["0", "-1", "1.5", "abc"])
def test_line_number_not_a_whole_number_is_rejected(bad):
    assert reasons({"line_number": bad}) == ["line_number: not a whole number >= 1"]


def test_units_default_1_only_when_absent():
    clean, rejects = normalize_chunk(frame({"units": ""}, {"units": "3"}, {"units": "two"}, {"units": "-1"}))
    assert rejects.empty
    assert clean["units"].iloc[0] == 1  # empty cell: absent → 1
    assert clean["units"].iloc[1] == 3
    assert clean["units"].iloc[2] is pd.NA  # present but unreadable: unknown, not 1
    assert clean["units"].iloc[3] is pd.NA
    # column absent → 1
    clean, _ = normalize_chunk(frame({}))
    assert clean["units"].tolist() == [1]


def test_prior_same_code_parsed():
    clean, _ = normalize_chunk(frame({"prior_same_code_12m": "2"}, {"prior_same_code_12m": "0"}))
    assert clean["prior_same_code_12m"].tolist() == [2, 0]


def test_identifiers_stripped_and_spreadsheet_float_suffix_removed():
    row = one("provider_id", "1234567890.0", claim_id=" C-9 ", payer_id="00123", place_of_service="2")
    assert row["provider_id"] == "1234567890"
    assert row["claim_id"] == "C-9"
    assert row["payer_id"] == "00123"  # leading zeros kept
    assert row["place_of_service"] == "02"


def test_labels_parsed():
    clean, _ = normalize_chunk(
        frame(
            {"denied": "Y", "denial_reason": "co-16", "paid_amount": "$1,000"},
            {"denied": "0", "denial_reason": "", "paid_amount": "12.5"},
        )
    )
    assert clean["denied"].tolist() == [True, False]
    assert clean["denial_reason"].iloc[0] == "CO-16"
    assert clean["denial_reason"].iloc[1] is pd.NA
    assert clean["paid_amount"].tolist() == [1000.0, 12.5]


def test_remark_codes_are_an_upper_cased_list_label_never_a_feature():
    clean, _ = normalize_chunk(
        frame(
            {"remark_codes": "n19, ma130"},
            {"remark_codes": "N362|N362|M38"},
            {"remark_codes": ""},
        )
    )
    assert clean["remark_codes"].tolist()[:2] == ["N19|MA130", "N362|M38"]
    assert clean["remark_codes"].iloc[2] is pd.NA
    assert str(clean["remark_codes"].dtype) == schema.NORMALISED_DTYPES["remark_codes"]
    assert normalize_chunk(frame({}))[0]["remark_codes"].isna().all()  # absent: unknown
    assert "remark_codes" in schema.OUTCOME_COLUMNS  # what the feature pipeline refuses
    # a header spelled otherwise is still the contract's column
    from denial_risk.claims.reader import canonical_name

    assert canonical_name("Remark Codes") == "remark_codes"


def test_extra_columns_pass_through_untouched_in_order():
    raw = frame({"zeta": " Keep Me ", "Alpha": "007", "notes": ""})
    clean, _ = normalize_chunk(raw)
    extras = [c for c in clean.columns if c not in schema.NORMALISED_DTYPES]
    assert extras == ["zeta", "Alpha", "notes"]
    assert clean["zeta"].iloc[0] == " Keep Me "
    assert clean["Alpha"].iloc[0] == "007"
    assert clean["notes"].iloc[0] == ""


def test_clean_frame_has_every_contract_column_with_documented_dtypes():
    clean, _ = normalize_chunk(frame({}, {"claim_id": "X"}))
    for name, dtype in schema.NORMALISED_DTYPES.items():
        if name == "true_denial_probability":
            continue  # simulator-only, present only when the file has it
        assert name in clean.columns, name
        assert str(clean[name].dtype) == dtype, (name, clean[name].dtype)


def test_index_is_input_position_from_start():
    clean, rejects = normalize_chunk(frame({}, {"billed_amount": ""}, {}), start=100)
    assert clean.index.tolist() == [100, 102]
    assert rejects.index.tolist() == [101]


# --- reject reasons -------------------------------------------------------------


@pytest.mark.parametrize("column", ["claim_id", "service_date", "hcpcs_code", "billed_amount"])
@pytest.mark.parametrize("empty", ["", "   "])
def test_missing_required_value_is_rejected(column, empty):
    assert reasons({column: empty}) == [f"{column}: missing"]


@pytest.mark.parametrize(
    "raw",
    [
        "2024-02-30",
        "2023-02-29",
        "2024-13-01",
        "03/05/2024",
        "yesterday",
        "2024-03-05x",
        "20241305",
        "2024",
        "0001-01-01",
    ],
)
def test_unparseable_date_is_rejected(raw):
    assert reasons({"service_date": raw}) == ["service_date: unparseable date (use YYYY-MM-DD or YYYYMMDD)"]


def test_leap_day_is_a_date():
    assert one("service_date", "2024-02-29")["service_date"] == pd.Timestamp("2024-02-29")


def test_unparseable_submission_date_is_rejected():
    assert reasons({"submission_date": "2024-02-30"}) == [
        "submission_date: unparseable date (use YYYY-MM-DD or YYYYMMDD)"
    ]


@pytest.mark.parametrize("raw", ["abc", "$", "1.2.3", "12,34", "inf", "nan", "1_000", "--5", "12 00"])
def test_unparseable_amount_is_rejected(raw):
    assert reasons({"billed_amount": raw}) == ["billed_amount: unparseable amount"]


@pytest.mark.parametrize("raw", ["-5", "-0.01", "$-5.00", "-$5", "(5.00)"])
def test_negative_amount_is_rejected(raw):
    assert reasons({"billed_amount": raw}) == ["billed_amount: negative amount"]


@pytest.mark.parametrize("raw", ["١٢٣", "１２３", "$１,２３４.00", "12٣", "১২"])
def test_only_ascii_digits_count_in_amounts(raw):
    assert reasons({"billed_amount": raw}) == ["billed_amount: unparseable amount"]


@pytest.mark.parametrize("column", ["line_number", "units", "prior_same_code_12m"])
def test_only_ascii_digits_count_in_numbers(column):
    got = reasons({column: "١"}, {column: "２"}, {column: "2"})
    if column == "line_number":
        assert got == ["line_number: not a whole number >= 1"] * 2 + [None]
    else:  # not a reject: the count is unknown, never the digit's value
        clean, _ = normalize_chunk(frame({column: "١"}, {column: "２"}, {column: "2"}))
        assert clean[column].isna().tolist() == [True, True, False] and got == [None] * 3


@pytest.mark.parametrize("raw", ["1000000000.01", "1e308", "2e9", "$1,000,000,001"])
def test_implausible_amount_is_rejected(raw):
    assert reasons({"billed_amount": raw}) == ["billed_amount: implausible amount (over 1,000,000,000)"]


def test_a_billion_is_the_largest_amount_and_a_larger_paid_amount_is_unknown():
    row = one("billed_amount", "1000000000", paid_amount="1e12")
    assert row["billed_amount"] == 1e9 and pd.isna(row["paid_amount"])
    clean, rejects = normalize_chunk(
        pd.DataFrame({**{k: [v] for k, v in BASE.items()}, "billed_amount": [1e308]})
    )
    assert clean.empty and rejects[REJECT_REASON].tolist() == [
        "billed_amount: implausible amount (over 1,000,000,000)"
    ]


def test_duplicate_within_chunk_is_rejected_first_kept():
    got = reasons(
        {"claim_id": "A", "line_number": "1"},
        {"claim_id": "A", "line_number": "2"},
        {"claim_id": "A", "line_number": "1"},
        {"claim_id": "A", "line_number": "1.0"},
    )
    dup = "claim_id+line_number: duplicate of an earlier row"
    assert got == [None, None, dup, dup]


def test_duplicate_when_line_number_defaults():
    # no line_number column: every line is line 1, so a repeated claim_id is a duplicate
    got = reasons({"claim_id": "A"}, {"claim_id": "A"}, {"claim_id": " A "})
    assert got[0] is None and got[1] and got[2]


def test_duplicate_across_chunks_with_tracker():
    tracker = DuplicateTracker()
    c1, r1 = normalize_chunk(frame({"claim_id": "A"}, {"claim_id": "B"}), duplicates=tracker)
    c2, r2 = normalize_chunk(
        frame({"claim_id": "B"}, {"claim_id": "C"}, {"claim_id": "A"}), duplicates=tracker, start=2
    )
    assert len(c1) == 2 and r1.empty
    assert c2["claim_id"].tolist() == ["C"]
    assert r2.index.tolist() == [2, 4]


def test_duplicate_tracker_distinguishes_claim_and_line():
    tracker = DuplicateTracker()
    ids = pd.Series(["a1", "a", "a", "1"], dtype="string")
    lines = pd.Series([2, 12, 1, 1], dtype="Int64")
    assert not tracker.mark(ids, lines).any()
    assert tracker.mark(
        pd.Series(["a", "a1", "b"], dtype="string"), pd.Series([12, 2, 12], dtype="Int64")
    ).tolist() == [True, True, False]


def test_duplicate_tracker_matches_a_set_across_many_chunks_and_merges():
    """Runs are merged past `max_runs`; the answers stay those of a plain set."""
    rng = np.random.default_rng(5)
    tracker, seen = DuplicateTracker(max_runs=3), set()
    for _ in range(12):
        ids = rng.integers(0, 60, size=25).astype(str)
        lines = rng.integers(1, 4, size=25)
        got = tracker.mark(pd.Series(ids, dtype="string"), pd.Series(lines, dtype="Int64"))
        want = []
        for key in zip(ids, lines):
            want.append(key in seen)
            seen.add(key)
        assert got.tolist() == want
        assert len(tracker.runs) <= 3
    assert tracker.size == len(seen)


def test_several_problems_named_together():
    got = reasons({"claim_id": "", "billed_amount": "-1", "service_date": "nope"})
    assert got == [
        "claim_id: missing; service_date: unparseable date (use YYYY-MM-DD or YYYYMMDD); "
        "billed_amount: negative amount"
    ]


def test_rejects_keep_original_values():
    raw = frame({"billed_amount": "-$5", "modifiers": "kx, rt", "extra": "x"})
    clean, rejects = normalize_chunk(raw)
    assert clean.empty
    row = rejects.iloc[0]
    assert row["billed_amount"] == "-$5"
    assert row["modifiers"] == "kx, rt"
    assert row["extra"] == "x"
    assert list(rejects.columns) == [*raw.columns, REJECT_REASON]


def test_invalid_code_is_not_a_reject():
    # validity of codes is a model feature, never a reject
    clean, rejects = normalize_chunk(
        frame({"hcpcs_code": "ZZZZZZZ", "modifiers": "Q9", "diagnosis_codes": "M48X"})
    )
    assert rejects.empty and len(clean) == 1


# --- typed (Parquet) raw columns ------------------------------------------------


def test_typed_columns():
    raw = pd.DataFrame(
        {
            "claim_id": pd.Series([1, 2, 3], dtype="int64"),
            "line_number": pd.Series([1.0, np.nan, 2.0]),
            "service_date": pd.to_datetime(["2024-01-05 13:00", "2024-01-06", None], format="ISO8601").astype(
                "datetime64[ms]"
            ),
            "submission_date": pd.Series(
                [pd.Timestamp("2024-01-07").date(), None, pd.Timestamp("2024-01-08").date()], dtype=object
            ),
            "payer_type": ["medicare", None, "MEDICAID"],
            "hcpcs_code": ["l0627", "E0601", "K0001"],
            "modifiers": pd.Series(
                [np.array(["kx", "rt"], dtype=object), None, np.array([], dtype=object)], dtype=object
            ),
            "diagnosis_codes": ["M54.50", None, ""],
            "billed_amount": [1234.5, 10.0, np.nan],
            "has_prior_auth": pd.Series([True, None, False], dtype=object),
            "has_photos": pd.Series([True, False, True], dtype=bool),
            "units": pd.Series([2, 1, 3], dtype="int64"),
        }
    )
    clean, rejects = normalize_chunk(raw)
    assert rejects.index.tolist() == [2]  # service_date and billed_amount missing
    assert rejects[REJECT_REASON].iloc[0] == "service_date: missing; billed_amount: missing"
    assert clean["claim_id"].tolist() == ["1", "2"]
    assert clean["line_number"].tolist() == [1, 1]
    assert clean["service_date"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-06")]
    assert clean["submission_date"].iloc[0] == pd.Timestamp("2024-01-07")
    assert clean["payer_type"].iloc[0] == "medicare" and clean["payer_type"].iloc[1] is pd.NA
    assert clean["modifiers"].tolist() == ["KX|RT", ""]
    assert clean["has_prior_auth"].iloc[0] is np.True_ or clean["has_prior_auth"].iloc[0] == True  # noqa: E712
    assert clean["has_prior_auth"].iloc[1] is pd.NA
    assert clean["has_photos"].tolist() == [True, False]
    for name, dtype in schema.NORMALISED_DTYPES.items():
        if name in clean.columns:
            assert str(clean[name].dtype) == dtype, name


def test_typed_timezone_and_out_of_range_dates():
    raw = frame({}, {}, {})
    raw["service_date"] = pd.Series(
        pd.to_datetime(["2024-01-05T23:00:00", "2024-01-06", "2024-01-07"], format="ISO8601"),
        dtype="datetime64[us]",
    ).dt.tz_localize("UTC")
    clean, rejects = normalize_chunk(raw)
    assert clean["service_date"].iloc[0] == pd.Timestamp("2024-01-05")
    far = frame({})
    far["service_date"] = pd.Series([np.datetime64("0001-01-01", "us")])
    clean, rejects = normalize_chunk(far)
    assert clean.empty and "service_date: unparseable" in rejects[REJECT_REASON].iloc[0]


def test_empty_chunk():
    raw = pd.DataFrame({c: pd.Series([], dtype="str") for c in BASE})
    clean, rejects = normalize_chunk(raw)
    assert clean.empty and rejects.empty
    assert str(clean["billed_amount"].dtype) == "float64"
    assert REJECT_REASON in rejects.columns


# --- required columns -----------------------------------------------------------


def test_check_required_columns_names_the_column():
    cols = [c for c in schema.REQUIRED if c != "billed_amount"]
    with pytest.raises(UserError, match="f.csv: missing required column 'billed_amount'"):
        check_required_columns(cols, "f.csv")
    check_required_columns(list(schema.REQUIRED), "f.csv")


# --- performance ----------------------------------------------------------------


def _big_chunk(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    days = pd.date_range("2023-01-01", "2025-06-30")
    return pd.DataFrame(
        {
            "claim_id": pd.Series([f"C{i // 2:09d}" for i in range(n)], dtype="str"),
            "line_number": pd.Series(np.where(np.arange(n) % 2, "2", "1"), dtype="str"),
            "patient_id": pd.Series(np.char.add("P", rng.integers(0, n // 5, n).astype(str)), dtype="str"),
            "provider_id": pd.Series(rng.integers(10**9, 2 * 10**9, n).astype(str), dtype="str"),
            "service_date": pd.Series(rng.choice(days.strftime("%Y-%m-%d"), n), dtype="str"),
            "submission_date": pd.Series(rng.choice(days.strftime("%Y%m%d"), n), dtype="str"),
            "payer_type": pd.Series(rng.choice(["medicare", "Medicaid", "commercial", ""], n), dtype="str"),
            "hcpcs_code": pd.Series(rng.choice(["L0627", "l0650", "E0601", "97760"], n), dtype="str"),
            "modifiers": pd.Series(rng.choice(["", "KX", "kx, rt", "GA|GZ"], n), dtype="str"),
            "diagnosis_codes": pd.Series(rng.choice(["M54.50", "M5450|m48.06", ""], n), dtype="str"),
            "billed_amount": pd.Series(np.round(rng.uniform(1, 5000, n), 2).astype(str), dtype="str"),
            "units": pd.Series(rng.choice(["1", "2", ""], n), dtype="str"),
            **{
                f: pd.Series(rng.choice(["true", "N", "", "1"], n), dtype="str") for f in schema.BOOLEAN_FLAGS
            },
        }
    )


def test_normalize_250k_rows_is_fast():
    raw = _big_chunk(250_000)
    normalize_chunk(raw.iloc[:1000])  # warm up imports
    t0 = time.process_time()
    clean, rejects = normalize_chunk(raw, duplicates=DuplicateTracker())
    cpu = time.process_time() - t0
    assert len(clean) == 250_000 and rejects.empty
    # ~0.4 s of CPU on a quiet 2-core machine; CPU time so that a busy machine does not fail it
    assert cpu < 1.5, f"normalize_chunk took {cpu:.2f} s CPU for 250k rows"


def test_remembered_dates_answer_as_the_whole_columns_parse(monkeypatch):
    """A served request's few dates come from a bounded memo; each answer is the full parse's."""
    from denial_risk.contract import values

    monkeypatch.setattr(values, "DATE_MEMO_MAX", 5)
    monkeypatch.setattr(values, "_DATE_MEMO", {})
    texts = ["2025-03-01", "20250302", "2025-3-4", "2025-03-05T10:00", "bad", "", "2025-02-30", "99991231"]
    texts += [f"2024-01-{d:02d}" for d in range(1, 20)]
    want_dates, want_bad = values._dates_from_text(pd.Series(texts, dtype=values.STRING))
    for start in range(0, len(texts), 3):
        part = texts[start : start + 4]
        dates, bad = values._dates_of(pd.Series(part, dtype=values.STRING))
        np.testing.assert_array_equal(dates, want_dates[start : start + len(part)])
        np.testing.assert_array_equal(bad, want_bad[start : start + len(part)])
        assert len(values._DATE_MEMO) <= 5
