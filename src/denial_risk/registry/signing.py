"""A signing key outside the store, for a model the store alone cannot make trusted.

The digests a registry model is checked against live in the store (`mlflow.db`): whoever can
write that file and the artifacts can record a digest for files of their own. With a key set,
`train` also records `model_hmac`, an HMAC-SHA256 over the model's manifest digest under the
key, and every registry load recomputes it and refuses a model whose tag is missing or
differs. The key never goes to MLflow, so writing the store is no longer enough.

Project judgement (documented in docs/cli.md): an HMAC with a shared secret rather than a
public-key signature (minisign, sigstore): it needs no new dependency and no key tooling, and
the machines that train are the ones that score. Its limit: every holder of the key can sign.

The key comes from `DENIAL_RISK_SIGNING_KEY_FILE` (a file: its bytes, surrounding whitespace
dropped; it must not be readable by others) or `DENIAL_RISK_SIGNING_KEY` (the text itself);
the file wins when both are set. At least 16 bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from denial_risk.errors import UserError

KEY_ENV = "DENIAL_RISK_SIGNING_KEY"
KEY_FILE_ENV = "DENIAL_RISK_SIGNING_KEY_FILE"
SIGNATURE_TAG = "model_hmac"
MIN_KEY_BYTES = 16
_CONTEXT = b"denial-risk model manifest sha256:"  # the key signs model digests and nothing else


def signing_key() -> bytes | None:
    """The key from the environment (module docstring), or None when none is set."""
    path = os.environ.get(KEY_FILE_ENV)
    if path:
        try:
            info = os.stat(path)
            key = Path(path).read_bytes().strip()
        except OSError as exc:
            raise UserError(f"{KEY_FILE_ENV} {path}: cannot be read ({exc.strerror})") from None
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UserError(f"{KEY_FILE_ENV} {path}: readable by others; chmod 600 it")
        where = f"{KEY_FILE_ENV} {path}"
    else:
        key = os.environ.get(KEY_ENV, "").strip().encode("utf-8")
        if not key:
            return None
        where = KEY_ENV
    if len(key) < MIN_KEY_BYTES:
        raise UserError(f"{where}: the signing key is {len(key)} bytes; use at least {MIN_KEY_BYTES}")
    return key


def sign(digest: str, key: bytes) -> str:
    return hmac.new(key, _CONTEXT + digest.encode("ascii"), hashlib.sha256).hexdigest()


def check(digest: str, signature: str | None, key: bytes | None, where: str) -> None:
    """With a key set, the recorded `signature` must be the key's over `digest` (UserError otherwise)."""
    if key is None:
        return
    if not signature:
        raise UserError(
            f"{where} is not signed (no {SIGNATURE_TAG} tag) and a signing key is set; "
            f"train it again with {KEY_ENV} or {KEY_FILE_ENV} set"
        )
    if not hmac.compare_digest(signature.strip().lower(), sign(digest, key)):
        raise UserError(
            f"{where}: its {SIGNATURE_TAG} does not match the signing key "
            "(the store's rows were edited, or it was signed with another key)"
        )


def check_records(uri: str, where: str, records: dict[str, str | None], signature: str | None) -> None:
    """The digest recorded in `where` must equal every other record of it (the version, the logged
    model, the run: {where: digest}), and with a key set carry the key's `signature`."""
    digest = records[where]
    differing = [w for w, d in records.items() if d != digest]
    if differing:
        raise UserError(
            f"--model {uri}: the SHA-256 recorded in {differing[0]} differs from the one in {where} "
            "(the store's rows were edited); refused"
        )
    check(digest, signature, signing_key(), f"--model {uri}")


def run_tag(logged_name: str | None, tag: str) -> str:
    """A tag of the run for the model logged as `logged_name`: the denial model's ('model') plain, any
    other's prefixed with its name, so two models logged in one run keep their own digests."""
    return tag if logged_name in (None, "model") else f"{logged_name}.{tag}"
