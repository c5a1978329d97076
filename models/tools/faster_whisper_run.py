#!/usr/bin/env python3
"""faster-whisper on one recording, as the comparison engine of kogi's tests and benchmarks: JSON with
each 30-s window's tokens, the segments, the language and the wall time.

    ~/.cache/kogi/reference/bin/python models/tools/faster_whisper_run.py AUDIO [--compute-type float32|int8]
        [--language ja] [--vad] [--threads 2] [--work DIR]

Greedy (beam 1, temperature 0 only), no previous-text prompt, timestamps on: the settings kogi decodes
with. --vad uses faster-whisper's own VAD filter (kogi runs the same Silero model the same way).
The model is the CTranslate2 folder assembled from the same PyPI wheels as kogi's ONNX build.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_whisper import ct2_model_dir  # noqa: E402
from common import REPO_ROOT  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("audio", type=Path)
    ap.add_argument("--compute-type", default="float32")
    ap.add_argument("--language")
    ap.add_argument("--vad", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", type=Path, default=REPO_ROOT / ".kogi" / "build" / "whisper-base")
    args = ap.parse_args()
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    t0 = time.perf_counter()
    model = WhisperModel(str(ct2_model_dir(args.work)), device="cpu", compute_type=args.compute_type,
                         cpu_threads=args.threads)
    load = time.perf_counter() - t0
    windows = []
    generate = model.generate_with_fallback

    def recorded(encoder_output, prompt, tokenizer, options):
        result = generate(encoder_output, prompt, tokenizer, options)
        windows.append({"tokens": list(result[0].sequences_ids[0])})
        return result

    model.generate_with_fallback = recorded
    t1 = time.perf_counter()
    audio = decode_audio(str(args.audio))
    segments, info = model.transcribe(audio, language=args.language, beam_size=1, best_of=1, temperature=0.0,
                                      without_timestamps=False, condition_on_previous_text=False,
                                      vad_filter=args.vad)
    segments = [{"start": s.start, "end": s.end, "text": s.text.strip(), "seek": s.seek} for s in segments]
    seconds = time.perf_counter() - t1
    print(json.dumps({"engine": f"faster-whisper {args.compute_type}", "language": info.language,
                      "duration_s": info.duration, "load_s": load, "seconds": seconds,
                      "real_time_factor": seconds / max(info.duration, 1e-9), "windows": windows,
                      "segments": segments}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
