"""The model folder's manifest: what `verify` accepts, and every way it refuses (no MLflow here)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from denial_risk.registry import manifest
from denial_risk.registry.manifest import TrustError


@pytest.fixture()
def folder(tmp_path):
    root = tmp_path / "model"
    (root / "artifacts" / "bundle").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "pyfunc.py").write_text("x = 1\n")
    (root / "artifacts" / "bundle" / "denial_model.skops").write_bytes(bytes(range(256)) * 40)
    (root / "Zed.txt").write_text("upper case sorts first in bytes\n")
    return root


def test_manifest_is_sha256sum_text_and_the_digest_is_its_sha256(folder):
    digest = manifest.write_manifest(folder)
    text = (folder / manifest.MANIFEST_FILE).read_text()
    assert digest == hashlib.sha256(text.encode()).hexdigest()
    paths = [line.split("  ", 1)[1] for line in text.splitlines()]
    assert paths == ["MLmodel", "Zed.txt", "artifacts/bundle/denial_model.skops", "pyfunc.py"]
    # the documented recipe recomputes it from the files alone, without trusting the manifest
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "pyfunc.cpython-311.pyc").write_bytes(b"bytecode Python wrote")
    recipe = (
        f"cd {folder} && find . -type f ! -name MANIFEST.sha256 ! -path '*/__pycache__/*' -printf '%P\\0' "
        "| LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum"
    )
    out = subprocess.run(["bash", "-c", recipe], capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == digest
    check = subprocess.run(["sha256sum", "-c", "--quiet", manifest.MANIFEST_FILE], cwd=folder)
    assert check.returncode == 0


def test_verify_copies_exactly_what_it_hashed(folder, tmp_path):
    digest = manifest.write_manifest(folder)
    copy = tmp_path / "copy"
    manifest.verify(folder, digest, "the manifest", copy_to=copy)
    for path in folder.rglob("*"):
        if path.is_file():
            assert (copy / path.relative_to(folder)).read_bytes() == path.read_bytes()
    assert manifest.hash_folder(copy) == manifest.hash_folder(folder)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "pyfunc.py").write_text("x = 1\nimport os\n"), "file pyfunc.py does not match"),
        (lambda f: (f / "python_model.pkl").write_bytes(b"\x80\x04."), "file python_model.pkl is not in"),
        (lambda f: (f / "Zed.txt").unlink(), "file Zed.txt is missing"),
        (lambda f: (f / "artifacts" / "bundle" / "__init__.py").write_text(""), "is not in"),
    ],
)
def test_a_changed_extra_or_missing_file_is_named(folder, damage, message):
    digest = manifest.write_manifest(folder)
    damage(folder)
    with pytest.raises(TrustError, match=message):
        manifest.verify(folder, digest, "the manifest")


def test_bytecode_caches_are_not_listed_checked_or_copied(folder, tmp_path):
    """Python writes them when plain MLflow loads the folder in place; the copy that loads has none."""
    (folder / "code").mkdir()
    (folder / "code" / "m.py").write_text("x = 1\n")
    digest = manifest.write_manifest(folder)
    assert "__pycache__" not in (folder / manifest.MANIFEST_FILE).read_text()
    for where in (folder / "__pycache__", folder / "code" / "__pycache__"):
        where.mkdir()
        (where / "m.cpython-311.pyc").write_bytes(b"anything at all")
    copy = tmp_path / "copy"
    manifest.verify(folder, digest, "the manifest", copy_to=copy)
    assert not list(copy.rglob("__pycache__")) and (copy / "code" / "m.py").is_file()


def test_a_flipped_or_truncated_byte_is_refused(folder):
    digest = manifest.write_manifest(folder)
    skops = folder / "artifacts" / "bundle" / "denial_model.skops"
    data = bytearray(skops.read_bytes())
    data[100] ^= 1
    skops.write_bytes(bytes(data))
    with pytest.raises(TrustError, match="denial_model.skops does not match"):
        manifest.verify(folder, digest, "the manifest")
    skops.write_bytes(bytes(data[:50]))
    with pytest.raises(TrustError, match="denial_model.skops does not match"):
        manifest.verify(folder, digest, "the manifest")


def test_without_its_manifest_the_folder_is_still_checked_as_a_whole(folder):
    digest = manifest.write_manifest(folder)
    (folder / manifest.MANIFEST_FILE).unlink()
    manifest.verify(folder, digest, "the manifest")  # the same files: accepted
    (folder / "pyfunc.py").write_text("changed\n")
    with pytest.raises(TrustError, match="missing or altered"):
        manifest.verify(folder, digest, "the manifest")


def test_a_rewritten_manifest_does_not_help_a_tampered_folder(folder):
    digest = manifest.write_manifest(folder)
    (folder / "pyfunc.py").write_text("import os\n")
    manifest.write_manifest(folder)  # the attacker's own manifest: its digest is not the user's
    with pytest.raises(TrustError, match="missing or altered"):
        manifest.verify(folder, digest, "the manifest")


def test_links_fifos_and_odd_names_are_refused_never_followed(folder, tmp_path):
    digest = manifest.write_manifest(folder)
    outside = tmp_path / "secret.txt"
    outside.write_text("not the model's\n")
    link = folder / "link.txt"
    link.symlink_to(outside)
    with pytest.raises(TrustError, match="link.txt is a symbolic link"):
        manifest.verify(folder, digest, "the manifest")
    link.unlink()
    os.mkfifo(folder / "pipe")
    with pytest.raises(TrustError, match="pipe is not a regular file"):  # and it does not hang
        manifest.verify(folder, digest, "the manifest")
    (folder / "pipe").unlink()
    (folder / "a\nb").write_text("")
    with pytest.raises(TrustError, match="cannot hold"):
        manifest.verify(folder, digest, "the manifest")


def test_digest_must_be_64_hex(folder):
    assert manifest.normalize_digest(" " + "AB" * 32 + "\n") == "ab" * 32
    for bad in ("", "abc", "g" * 64, "ab" * 33):
        with pytest.raises(TrustError, match="64 hexadecimal"):
            manifest.normalize_digest(bad)


def _mlmodel(folder: Path, text: str) -> None:
    (folder / "MLmodel").write_text(text)


def test_mlmodel_must_be_a_pyfunc_logged_from_code(folder):
    good = (
        "flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.loaders.code_model\n"
        "    model_code_path: /somewhere/pyfunc.py\n    code: code\n"
    )
    _mlmodel(folder, good)
    manifest.check_mlmodel(folder)
    refused = {
        "\x00\xff garbage: [": "cannot be read|not a denial-risk model",
        "just a string\n": "not a denial-risk model",
        good.replace("mlflow.pyfunc.loaders.code_model", "mlflow.pyfunc.model")
        + "    python_model: python_model.pkl\n": "only mlflow.pyfunc.loaders.code_model",
        good + "    python_model: python_model.pkl\n": "only mlflow.pyfunc.loaders.code_model",
        good.replace("loaders.code_model", "loaders.evil"): "only mlflow.pyfunc.loaders.code_model",
        good.replace("pyfunc.py", "other.py"): "no model code file",
        good.replace("code: code", "code: ../elsewhere"): "only 'code'",
        good + "  sklearn:\n    pickled_model: model.pkl\n": "one python_function flavour",
    }
    for text, message in refused.items():
        _mlmodel(folder, text)
        with pytest.raises(TrustError, match=message):
            manifest.check_mlmodel(folder)
    (folder / "MLmodel").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(TrustError, match="cannot be read"):
        manifest.check_mlmodel(folder)
