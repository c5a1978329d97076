"""Synthesises the speech audio of the speech-recognition tests and benchmarks into the folder argv[1]
(scripts/setup-speech.sh runs it in ~/.cache/kogi/speech-venv). Deterministic: fixed seeds, fixed voices.

  ja-short.wav   8 short lecture sentences (Open JTalk), 0.5-2 s gaps and one 8 s gap in the middle
  en-short.wav   6 English sentences (espeak-ng, en-us)
  ja-10min.wav   about 10 minutes of consecutive lecture sentences, 0.3-1 s gaps (the benchmark)
  ja-short.{flac,mp3,m4a,mp4,ogg,opus}   ja-short encoded by ffmpeg (the same truth: ja-short.json)
  corrupt.mp3, no-audio.mp4, empty.wav, unsupported.wma, unsupported-ac3.mka, silence-3h.flac   bad inputs

WAVs are 16 kHz mono 16-bit. Each NAME.wav has NAME.json: {"source", "voice", "sample_rate", "samples",
"duration", "segments": [{"start", "end", "text"}] (seconds, from sample counts), "text"}.
"""
import contextlib
import io
import json
import re
import subprocess
import sys
import tempfile
import wave
from multiprocessing import Pool
from pathlib import Path

import numpy as np

SR = 16000
ROOT = Path(__file__).resolve().parents[2]
LECTURE = ROOT.parent / "shared/data/LLM2024_day4.txt"
FALLBACK = ROOT / "examples/sample-lecture.srt"
ENGLISH = [
    "Today we talk about scaling laws for large language models.",
    "The test loss falls as a power of the compute used for training.",
    "On a log-log plot, that relation is close to a straight line.",
    "For a fixed budget, the best model size and the number of tokens grow together.",
    "Later we look at scaling the computation spent at inference time.",
    "A model that thinks longer before it answers can solve harder problems.",
]
FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
# Output options that keep the files byte-identical between runs (no random Ogg serials, no version tags).
EXACT = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags", "+bitexact"]


def lecture():
    """The lecture's sentences, each a list of pieces: long ones cut at commas (segments of a few
    seconds, not a minute)."""
    if LECTURE.exists():
        text, source = LECTURE.read_text(encoding="utf-8"), "../shared/data/LLM2024_day4.txt"
    else:
        lines = FALLBACK.read_text(encoding="utf-8").splitlines()
        text = "\n".join(l for l in lines if l.strip() and not l.strip().isdigit() and "-->" not in l)
        source = "examples/sample-lecture.srt"
    sentences = []
    for sentence in re.findall(r"[^。！？!?\n]+[。！？!?]?", text):
        pieces = [""]
        for clause in re.findall(r"[^、]+、?", sentence.strip()):
            if len(pieces[-1]) + len(clause) > 60 and pieces[-1]:
                pieces.append("")
            pieces[-1] += clause
        sentences.append(pieces)
    return [s for s in sentences if s[0]], source


def trim(x, sr):
    """Cuts the voice's own leading and trailing silence, so that a segment's times are the speech's."""
    loud = np.flatnonzero(np.abs(x) > 500)
    pad = sr // 20
    return x[max(loud[0] - pad, 0) : loud[-1] + pad]


def resample(x, sr):
    # Fourier resampling: a brick-wall low-pass at 8 kHz; the trimmed clips start and end in near
    # silence, so the wrap-around of the FFT is inaudible.
    n = round(len(x) * SR / sr)
    return np.fft.irfft(np.fft.rfft(x)[: n // 2 + 1], n) * (n / len(x))


def ja(text):
    with contextlib.redirect_stdout(io.StringIO()):  # a notice that "何" is read without onnxruntime
        import pyopenjtalk
    x, sr = pyopenjtalk.tts(text)
    return resample(trim(x, sr), sr) * 0.5  # the voice peaks near full scale: keep headroom


def en(text):
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", f.name, text], check=True)
        with wave.open(f.name) as w:
            sr, x = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float)
    return resample(trim(x, sr), sr)


def write_wav(path, samples):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(SR)
        w.writeframes(samples.astype("<i2").tobytes())


def record(out, name, clips, texts, gaps, rng, source, voice, joiner):
    """Writes NAME.wav (gaps[i] of silence before clip i, 0.5 s after the last) and its truth NAME.json."""
    parts, segments, t = [], [], 0
    for clip, text, gap in zip(clips, texts, gaps):
        silence = round(gap * SR)
        parts += [np.zeros(silence), clip]
        segments.append({"start": (t + silence) / SR, "end": (t + silence + len(clip)) / SR, "text": text})
        t += silence + len(clip)
    parts.append(np.zeros(SR // 2))
    x = np.concatenate(parts)
    # A faint noise floor (about -78 dBFS) as in a real room: digital zeros between sentences are unlike
    # any microphone's.
    x = np.clip(np.round(x + rng.normal(0, 4, len(x))), -32768, 32767)
    for s in segments:  # a cheap listen-check: every sentence is audible
        rms = np.sqrt(np.mean(x[round(s["start"] * SR) : round(s["end"] * SR)] ** 2))
        assert rms > 300, f"{name}: {s['text']} is nearly silent (RMS {rms:.0f})"
    write_wav(out / f"{name}.wav", x)
    truth = {"source": source, "voice": voice, "sample_rate": SR, "samples": len(x), "duration": len(x) / SR,
             "segments": segments, "text": joiner.join(s["text"] for s in segments)}
    (out / f"{name}.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{name}.wav: {len(x) / SR:.1f} s, {len(segments)} segments", file=sys.stderr)
    return len(x) / SR


def ffmpeg(*args):
    subprocess.run(FFMPEG + list(args), check=True)


def main():
    out = Path(sys.argv[1])
    sentences, source = lecture()
    voice = "Open JTalk, mei (pyopenjtalk-plus 0.4.1.post10)"
    with Pool() as pool:
        # Short whole sentences in Japanese script only: how Open JTalk spells out Latin letters and formulas
        # is not what a listener would write. The fallback transcript has too few: then any pieces.
        short = [s[0] for s in sentences if 15 <= len(s[0]) <= 35 and re.fullmatch(r"[^\x00-\x7f]+。", s[0])]
        short = (short + [p for s in sentences for p in s if p not in short])[:8]
        rng = np.random.default_rng(1)
        gaps = rng.uniform(0.5, 2.0, len(short))
        gaps[len(short) // 2] = 8.0
        seconds = record(out, "ja-short", pool.map(ja, short), short, gaps, rng, source, voice, "")
        rng = np.random.default_rng(2)
        record(out, "en-short", pool.map(en, ENGLISH), ENGLISH, rng.uniform(0.5, 1.5, len(ENGLISH)), rng,
               "tests/speech/synthesize.py", "espeak-ng en-us, 150 words a minute", " ")
        # Consecutive sentences until 10 minutes (the short fallback text goes round again).
        texts, clips, total = [], [], 0.0
        pieces = [(p, i == len(s) - 1) for s in sentences for i, p in enumerate(s)] * 100
        for (text, ends), clip in zip(pieces, pool.imap(ja, [p for p, _ in pieces])):
            texts.append(text), clips.append(clip)
            total += len(clip) / SR + 0.65
            if total >= 600 and ends:
                break
        rng = np.random.default_rng(3)
        record(out, "ja-10min", clips, texts, rng.uniform(0.3, 1.0, len(clips)), rng, source, voice, "")
        pool.terminate()  # imap keeps synthesising ahead of the loop

    have = subprocess.run(FFMPEG + ["-encoders"], capture_output=True, text=True, check=True).stdout.split()
    wav = str(out / "ja-short.wav")
    black = ["-f", "lavfi", "-i", f"color=c=black:s=64x64:r=5:d={seconds}"]
    video = ["-c:v", "libx264", "-pix_fmt", "yuv420p"] if "libx264" in have else ["-c:v", "mpeg4"]
    encodings = {
        "ja-short.flac": ("flac", ["-i", wav, "-c:a", "flac"]),
        "ja-short.mp3": ("libmp3lame", ["-i", wav, "-c:a", "libmp3lame", "-b:a", "64k"]),
        "ja-short.m4a": ("aac", ["-i", wav, "-c:a", "aac", "-b:a", "64k"]),
        "ja-short.mp4": ("aac", black + ["-i", wav, *video, "-c:a", "aac", "-b:a", "64k"]),
        "ja-short.ogg": ("libvorbis", ["-i", wav, "-c:a", "libvorbis", "-q:a", "3"]),
        "ja-short.opus": ("libopus", ["-i", wav, "-c:a", "libopus", "-b:a", "32k"]),
        "no-audio.mp4": (video[1], black + video),
        # Neither ASF nor WMA is a format symphonia reads; AC-3 is a codec it lacks, in a container it reads.
        "unsupported.wma": ("wmav2", ["-i", wav, "-c:a", "wmav2", "-b:a", "64k"]),
        "unsupported-ac3.mka": ("ac3", ["-i", wav, "-c:a", "ac3", "-b:a", "96k"]),
        # 3 hours of a noise floor of -1/0/+1 (RMS -93 dBFS): FLAC cannot predict noise and needs about
        # 2.3 bits a sample, 49 MB (digital zeros would take 2 MB, but no microphone records digital zeros).
        "silence-3h.flac": ("flac", ["-f", "lavfi", "-i", "anoisesrc=r=16000:a=0.00003:c=white:seed=1:d=10800",
                                     "-c:a", "flac", "-sample_fmt", "s16"]),
    }
    for name, (encoder, args) in encodings.items():
        if encoder in have:
            ffmpeg(*args, *EXACT, str(out / name))
        else:
            print(f"{name}: skipped, this ffmpeg has no {encoder} encoder", file=sys.stderr)
    if (out / "ja-short.mp3").exists():
        # A valid start (tags and the first frames), then garbage: the decoder opens it and fails later.
        good = (out / "ja-short.mp3").read_bytes()[:4096]
        (out / "corrupt.mp3").write_bytes(good + np.random.default_rng(4).bytes(60_000))
    write_wav(out / "empty.wav", np.zeros(0))


if __name__ == "__main__":
    main()
