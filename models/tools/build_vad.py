#!/usr/bin/env python3
"""Silero VAD v6 (voice activity for speech recognition), the ONNX export faster-whisper ships.

    python models/tools/build_vad.py --out DIR [--work DIR]

The file is taken unchanged from the `faster-whisper` wheel on PyPI (MIT; the model is Silero's, MIT):
kogi runs it exactly as faster-whisper does (crates/kogi-core/src/inference/vad.rs), so both hear speech
in the same places. Only the model file is used, never faster-whisper's code.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO_ROOT, json_text, pypi_file, sha256_file, write_text  # noqa: E402

NAME = "silero-vad"
SPEC = "faster-whisper==1.2.1"
MEMBER = "faster_whisper/assets/silero_vad_v6.onnx"
SHA256 = "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=REPO_ROOT / ".kogi" / "build" / NAME)
    ap.add_argument("--reference", type=Path, help="unused (no shared copy of this model)")
    args = ap.parse_args()
    src = pypi_file(SPEC, MEMBER, args.work, sha256=SHA256)
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, args.out / "silero_vad_v6.onnx")
    manifest = {
        "name": NAME, "kind": "voice_activity",
        "files": {"model": "silero_vad_v6.onnx"},
        "sha256": {"silero_vad_v6.onnx": sha256_file(args.out / "silero_vad_v6.onnx")},
        "max_length": 0,
        "source": {"pypi": SPEC, "file": MEMBER}, "licence": "MIT",
        "frame_samples": 512, "context_samples": 64, "sample_rate": 16000,
    }
    write_text(args.out / "manifest.json", json_text(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
