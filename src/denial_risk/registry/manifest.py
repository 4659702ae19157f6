"""A model folder's manifest: the SHA-256 of every file, and the one digest over it.

Loading an MLflow model runs code from its folder (the pyfunc file, `code/`, the
loader the `MLmodel` names), so a folder is loaded only when every file in it is
exactly a file that was recorded when the model was logged. The manifest is the
text `sha256sum` writes: one line `<64 hex>  <path>` per regular file, paths
relative to the folder with `/`, sorted by their UTF-8 bytes (`LC_ALL=C sort`),
each line ending in `\\n`, the manifest file itself (`MANIFEST.sha256`) left out.
The model's digest is the SHA-256 of that text, so for an exported folder it is
`sha256sum FOLDER/MANIFEST.sha256`, and it can be recomputed without trusting the
folder's own manifest (docs/cli.md).

Python's bytecode caches (`__pycache__` folders, which Python writes beside the
sources when plain MLflow loads a folder in place) are neither listed, checked
nor copied: the copy that loads has none, so Python compiles the checked
sources. A symbolic link, a FIFO or device, a name `sha256sum` would escape
(newline, backslash) or one that is not UTF-8 is refused, never followed. Files are read with `O_NOFOLLOW |
O_NONBLOCK`, so a link or FIFO swapped in after the listing fails instead of
hanging. `verify` checks a private copy (or a download into a private folder):
the bytes that were hashed are the bytes that are loaded.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

MANIFEST_FILE = "MANIFEST.sha256"
PYCACHE = "__pycache__"
_HEX = re.compile(r"[0-9a-f]{64}")
_LINE = re.compile(r"([0-9a-f]{64})  (.+)")
_CHUNK = 1 << 20

# What a denial-risk model's MLmodel must say: the pyfunc flavour, logged as "models from
# code" (no pickled Python object), with its code in `code/` or none.
CODE_LOADER = "mlflow.pyfunc.loaders.code_model"


class TrustError(Exception):
    """The folder is not the one recorded: the message names the file (one line)."""


def normalize_digest(value: str, option: str = "--model-sha256") -> str:
    digest = value.strip().lower()
    if not _HEX.fullmatch(digest):
        raise TrustError(f"{option} {value!r}: expected the model's SHA-256, 64 hexadecimal digits")
    return digest


def manifest_text(files: dict[str, str]) -> str:
    """`sha256sum` lines for {relative path: hex digest}, sorted by path bytes."""
    return "".join(f"{files[p]}  {p}\n" for p in sorted(files, key=lambda p: p.encode("utf-8")))


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_manifest(data: bytes) -> dict[str, str] | None:
    """The manifest's {path: digest}, or None unless `data` is exactly a canonical manifest."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    files = {}
    for line in text.splitlines():
        m = _LINE.fullmatch(line)
        if not m or m.group(2) in files:
            return None
        files[m.group(2)] = m.group(1)
    return files if manifest_text(files) == text else None


def _files(folder: Path) -> list[str]:
    """Relative POSIX paths of the regular files under `folder`; anything else is refused."""
    if not folder.is_dir() or folder.is_symlink():
        raise TrustError("is not a model folder")
    out = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if d != PYCACHE]  # never listed, checked or copied (module docstring)
        for name in sorted(dirs) + sorted(names):
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            if "\n" in rel or "\r" in rel or "\\" in rel:
                raise TrustError(f"file {rel!r} has a name a manifest cannot hold")
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:  # bytes the file system holds but no UTF-8 manifest line can
                raise TrustError(f"file {rel!r} has a name that is not UTF-8 (refused)") from None
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                raise TrustError(f"file {rel} is a symbolic link (refused, never followed)")
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise TrustError(f"file {rel} is not a regular file")
            out.append(rel)
    return sorted(out, key=lambda p: p.encode("utf-8"))


def _open(path: Path, rel: str):
    """A regular file opened for reading: never through a link, never blocking on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise TrustError(f"file {rel} cannot be read ({exc.strerror})") from None
    f = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        f.close()
        raise TrustError(f"file {rel} is not a regular file")
    return f


def _hash_file(src: Path, dst: Path | None, rel: str) -> str:
    """SHA-256 of a regular file, copying it to `dst` as it is read."""
    h = hashlib.sha256()
    with _open(src, rel) as f:
        out = None
        if dst is not None:
            dst.parent.mkdir(parents=True, exist_ok=True)
            out = open(dst, "xb")  # noqa: SIM115 - closed below
        try:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
                if out is not None:
                    out.write(chunk)
        finally:
            if out is not None:
                out.close()
    return h.hexdigest()


def hash_folder(
    folder: str | os.PathLike, copy_to: str | os.PathLike | None = None, only: set[str] | None = None
) -> dict[str, str]:
    """{relative path: SHA-256} of every file but the manifest (or of those in `only`);
    with `copy_to`, a copy of each file as it is read."""
    folder = Path(folder)
    files = {}
    for rel in _files(folder):
        if only is not None and rel not in only and rel != MANIFEST_FILE:
            continue
        dst = Path(copy_to) / rel if copy_to is not None else None
        digest = _hash_file(folder / rel, dst, rel)
        if rel != MANIFEST_FILE:
            files[rel] = digest
    return files


def write_manifest(folder: str | os.PathLike) -> str:
    """Write `MANIFEST.sha256` into the folder; returns the model's digest."""
    text = manifest_text(hash_folder(folder))
    (Path(folder) / MANIFEST_FILE).write_text(text, encoding="utf-8", newline="\n")
    return digest_of(text)


def verify(
    src: str | os.PathLike, expected: str, where: str, copy_to: str | os.PathLike | None = None
) -> None:
    """Every file of `src` (copied to `copy_to` as it is hashed) matches the digest `expected`.

    `where` names the manifest the digest pins ("the manifest --model-sha256 names"). When the
    folder's own manifest has that digest, a difference is named file by file; otherwise
    the folder as a whole does not match. Raises TrustError with one line.
    """
    src = Path(src)
    listed = None
    manifest = src / MANIFEST_FILE
    if manifest.is_file() and not manifest.is_symlink():
        with _open(manifest, MANIFEST_FILE) as f:
            data = f.read(1 << 24)
        if hashlib.sha256(data).hexdigest() == expected:
            listed = parse_manifest(data)
    if listed is None:
        if digest_of(manifest_text(hash_folder(src, copy_to))) != expected:
            raise TrustError(
                f"its files do not match {where} ({MANIFEST_FILE} is missing or altered too, "
                "so the changed file cannot be named)"
            )
        return
    got = hash_folder(src, copy_to, only=set(listed))
    changed = [rel for rel in sorted(listed) if rel in got and got[rel] != listed[rel]]
    if changed:
        raise TrustError(f"file {changed[0]} does not match its SHA-256 in {where}")
    missing = sorted(set(listed) - set(got))
    if missing:
        raise TrustError(f"file {missing[0]} is missing (it is in {where})")
    extra = sorted(set(_files(src)) - set(listed) - {MANIFEST_FILE})
    if extra:
        raise TrustError(f"file {extra[0]} is not in {where}")


def check_mlmodel(folder: str | os.PathLike) -> None:
    """The MLmodel is a denial-risk pyfunc logged from code: no pickle, no other loader."""
    import yaml

    path = Path(folder) / "MLmodel"
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TrustError(f"MLmodel cannot be read ({type(exc).__name__})") from None
    flavors = meta.get("flavors") if isinstance(meta, dict) else None
    pyfunc = flavors.get("python_function") if isinstance(flavors, dict) else None
    if not isinstance(pyfunc, dict) or set(flavors) != {"python_function"}:
        raise TrustError("MLmodel is not a denial-risk model (one python_function flavour expected)")
    if pyfunc.get("loader_module") != CODE_LOADER or "python_model" in pyfunc:
        raise TrustError(
            f"MLmodel names loader {pyfunc.get('loader_module')!r}; only {CODE_LOADER} is loaded"
        )
    code_file = Path(str(pyfunc.get("model_code_path", ""))).name
    if not code_file.endswith(".py") or not (Path(folder) / code_file).is_file():
        raise TrustError("MLmodel names no model code file in the folder")
    if pyfunc.get("code") not in (None, "code"):
        raise TrustError(f"MLmodel names code folder {pyfunc.get('code')!r}; only 'code' is loaded")
