"""Exit 0 when a model folder holds every file its manifest lists, with the recorded sha256.

usage: check_installed.py MODEL_DIR MANIFEST_JSON
"""

import hashlib
import json
import sys
from pathlib import Path


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> int:
    folder, manifest_path = Path(sys.argv[1]), Path(sys.argv[2])
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if not (folder / "manifest.json").is_file():
        print(f"{folder}: no manifest.json", file=sys.stderr)
        return 1
    installed = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if installed.get("sha256") != manifest.get("sha256"):
        print(f"{folder}: built by another version of the tooling", file=sys.stderr)
        return 1
    for name, want in manifest.get("sha256", {}).items():
        p = folder / name
        if not p.is_file() or sha256(p) != want:
            print(f"{p}: missing or changed", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
