"""Code tables the X12 readers and writers share (documented in docs/x12.md).

Every mapping that turns an X12 code into a contract value lives here, so the
reader and the writer cannot drift apart.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import secrets
import stat
import tempfile
from pathlib import Path

from denial_risk.errors import UserError

log = logging.getLogger(__name__)

# --- payer type ------------------------------------------------------------
# SBR09 (837 2000B) and CLP06 (835) "claim filing indicator code" -> payer_type.
FILING_INDICATOR_TO_PAYER_TYPE = {
    "MA": "medicare",  # Medicare Part A
    "MB": "medicare",  # Medicare Part B
    "16": "medicare_advantage",  # HMO Medicare Risk
    "MC": "medicaid",
    "CI": "commercial",  # commercial insurance
    "BL": "commercial",  # Blue Cross/Blue Shield
    "HM": "commercial",  # HMO
    "12": "commercial",  # PPO
    "13": "commercial",  # POS
    "14": "commercial",  # EPO
    "15": "commercial",  # indemnity
    "17": "commercial",  # dental maintenance organisation
    "LM": "commercial",  # liability medical
    # anything else (CH TRICARE, VA, WC workers' comp, AM auto, LI liability,
    # OF other federal, DS disability, TV title V, ZZ unknown, 11 other
    # non-federal) -> "other"
}
# The 835's CLP06 list has no CI/BL: commercial is written as 12 (PPO) there.
PAYER_TYPE_TO_CLP06 = {
    "medicare": "MB",
    "medicare_advantage": "16",
    "medicaid": "MC",
    "commercial": "12",
    "other": "ZZ",
}
PAYER_TYPE_TO_FILING_INDICATOR = {
    "medicare": "MB",
    "medicare_advantage": "16",
    "medicaid": "MC",
    "commercial": "CI",
    "other": "ZZ",
}


def payer_type_for(filing_indicator: str | None) -> str | None:
    """payer_type for a claim filing indicator; None (unknown) when absent."""
    if not filing_indicator:
        return None
    return FILING_INDICATOR_TO_PAYER_TYPE.get(filing_indicator.strip().upper(), "other")


# --- documentation flags ---------------------------------------------------
# PWK01 attachment report type code -> contract flag. A PWK says a document
# exists (attached, mailed, faxed or available on request); X12 has no way to
# say a document is *missing*, so an absent PWK leaves the flag unknown.
PWK_TO_FLAG = {
    "B2": "has_prescription",  # prescription
    "B3": "has_prescription",  # physician order
    "DB": "has_prescription",  # durable medical equipment prescription
    "OD": "has_prescription",  # orders and treatments document
    "CT": "has_medical_necessity_letter",  # certification
    "PO": "has_medical_necessity_letter",  # prosthetics or orthotic certification
    "03": "has_medical_necessity_letter",  # report justifying treatment beyond guidelines
    "09": "has_progress_notes",  # progress report
    "PN": "has_progress_notes",  # physical therapy notes
    "NN": "has_progress_notes",  # nursing notes
    "M1": "has_progress_notes",  # medical record attachment
    "HR": "has_progress_notes",  # health clinic records
    "OE": "has_measurements",  # objective physical examination (measurements)
    "XP": "has_photos",  # photographs
    "OZ": "has_proof_of_delivery",  # support data for claim (delivery ticket)
}
# What the writer emits for a true flag (the first code listed above).
FLAG_TO_PWK = {
    "has_prescription": "DB",
    "has_medical_necessity_letter": "PO",
    "has_progress_notes": "09",
    "has_measurements": "OE",
    "has_photos": "XP",
    "has_proof_of_delivery": "OZ",
}
# has_prior_auth comes from REF*G1 (prior authorization number), 2300 or 2400.

# --- diagnosis qualifiers ---------------------------------------------------
ICD10_QUALIFIERS = {"ABK", "ABF"}  # principal, other
ICD9_QUALIFIERS = {"BK", "BF"}  # ICD-9-CM principal, other

# --- denial rule ------------------------------------------------------------
# Adjustments that explain a lower (or zero) payment without being a denial:
# patient cost sharing and contractual / coordination-of-benefits reductions.
COST_SHARING_CARCS = {"1", "2", "3", "66"}  # deductible, coinsurance, copay, blood deductible
CONTRACTUAL_CARCS = {"45", "42", "253", "A2", "94", "23", "59"}
NOT_A_DENIAL_CARCS = COST_SHARING_CARCS | CONTRACTUAL_CARCS
DENIED_CLAIM_STATUS = "4"
REVERSAL_CLAIM_STATUS = "22"

# --- patient key --------------------------------------------------------------
# The salt is the secret of the pseudonyms: whoever has it can test a guessed member id against a
# key. There is no public default: unset, a random salt is made once per installation, in the
# user's config folder (XDG base directory spec), readable by the user only (docs/x12.md: rotation).
SALT_ENV = "DENIAL_RISK_PATIENT_SALT"
SALT_BYTES = 32  # 256 random bits, as 64 hex digits
MIN_SALT_CHARS = 16


def salt_path() -> Path:
    """`$XDG_CONFIG_HOME/denial-risk/patient_salt`, else `~/.config/denial-risk/patient_salt`."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):  # the spec: a relative value is ignored
        base = os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "denial-risk" / "patient_salt"


def patient_salt() -> str:
    """`DENIAL_RISK_PATIENT_SALT`, else this installation's salt file (made on first use)."""
    return os.environ.get(SALT_ENV) or _installation_salt(str(salt_path()))


@functools.lru_cache(maxsize=8)
def _installation_salt(path: str) -> str:
    p = Path(path)
    if not p.exists():
        _create_salt(p)
    try:
        mode = p.stat().st_mode
        salt = p.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"patient salt {p}: cannot be read ({exc}); or set {SALT_ENV}") from None
    if len(salt) < MIN_SALT_CHARS:
        raise UserError(
            f"patient salt {p}: shorter than {MIN_SALT_CHARS} characters; remove it to have a new one made "
            "(every patient_id changes, docs/x12.md) or set " + SALT_ENV
        )
    if stat.S_IMODE(mode) & 0o077:
        log.warning(f"patient salt {p} can be read by other users: chmod 600 {p}")
    return salt


def _create_salt(p: Path) -> None:
    """Write a random salt at `p` (mode 600) unless another process does first; say where, once."""
    try:
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".patient_salt.", dir=p.parent)  # mode 600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(SALT_BYTES) + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, p)  # whole file or nothing; fails if another process made one first
            except FileExistsError:
                return
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    except OSError as exc:
        raise UserError(
            f"patient salt {p}: cannot be created ({exc.strerror or exc}); set {SALT_ENV} to a long "
            "random secret instead"
        ) from None
    log.warning(
        f"created this installation's patient salt at {p} (mode 600): every patient_id depends on it, "
        "so back it up and keep it secret (docs/x12.md, 'Patient key')"
    )


def patient_key(*parts: str | None, salt: str | None = None) -> str | None:
    """Salted SHA-256 of the identifying parts, 20 hex chars; None if no part is known.

    The raw member id / name never leaves this function.
    """
    clean = [(p or "").strip().upper() for p in parts]
    if not any(clean):
        return None
    s = (salt if salt is not None else patient_salt()) + "\x1f" + "\x1f".join(clean)
    return "pk_" + hashlib.sha256(s.encode("utf-8")).hexdigest()[:20]
