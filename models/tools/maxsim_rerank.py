"""Research, not product: would late interaction (ColBERT-style MaxSim over multilingual-e5-small's own token
vectors, no training) reorder kogi's retrieved passages better? Reads the per-question passages of
`kogi --json eval ... -k 20`, re-encodes each passage and the question token by token with kogi's embedder,
scores a passage by the mean over question tokens of the best cosine to any passage token, and fuses that
rank with kogi's by reciprocal rank (constant 10, as kogi's fusion). Prints per-question ranks of the first
relevant passage and hit@1/3/5, MRR@5 for pools of 5, 10 and 20 passages.

  target/release/kogi --json eval --questions ../shared/eval/dev.jsonl --transcript raw -k 20 > /tmp/raw.json
  ~/.cache/kogi/reference/bin/python models/tools/maxsim_rerank.py --eval /tmp/raw.json --transcript raw

With `--db FILE --stored N` the passages' token vectors are not re-encoded at question time but taken from
encodings an index could store: the lecture's chunks (from kogi's database) encoded in consecutive blocks of up to
N tokens, each token kept once with its position, a passage scored by the tokens inside its span.
"""

import argparse
import json
import sqlite3
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--eval", required=True, help="kogi --json eval output with -k 20")
    p.add_argument("--transcript", choices=["corrected", "raw"], required=True)
    p.add_argument("--questions", default=str(ROOT / "../shared/eval/dev.jsonl"))
    p.add_argument("--data", default=str(ROOT / "../shared/data"))
    p.add_argument("--embedder", default=str(Path.home() / ".local/share/kogi/models/multilingual-e5-small"))
    p.add_argument("--db", help="kogi's database with the lecture indexed (for --stored)")
    p.add_argument("--stored", type=int, default=0, help="score with token vectors of blocks of up to N tokens")
    a = p.parse_args()

    tok = Tokenizer.from_file(f"{a.embedder}/tokenizer.json")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(f"{a.embedder}/model_int8.onnx", so)
    names = {i.name for i in sess.get_inputs()}

    def encode(text: str):
        enc = tok.encode(text)
        ids = np.array([enc.ids[:512]], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        h = sess.run(None, feed)[0][0]
        return h / np.linalg.norm(h, axis=1, keepdims=True), enc

    def token_vectors(text: str) -> tuple[np.ndarray, list[str]]:
        v, enc = encode(text)
        return v, enc.tokens[:512]

    suffix = "_raw" if a.transcript == "raw" else ""
    text = Path(f"{a.data}/LLM2024_day4{suffix}.txt").read_text()
    questions = {q["id"]: q for q in map(json.loads, filter(str.strip, open(a.questions)))}
    stored = None
    if a.stored:
        chunks = sqlite3.connect(a.db).execute(
            "SELECT c.match_start, c.match_end, c.text FROM chunks c JOIN chunk_sets s ON s.id = c.chunk_set_id "
            "ORDER BY s.id, c.ord").fetchall()
        ntok = [len(tok.encode(t, add_special_tokens=False).ids) for _, _, t in chunks]
        vecs, pos, b = [], [], 0
        while b < len(chunks):
            e, n = b, 0
            while e < len(chunks) and (e == b or n + ntok[e] <= a.stored):
                n += ntok[e]
                e += 1
            s0, e0 = chunks[b][0], chunks[e - 1][1]
            v, enc = encode("passage: " + text[s0:e0])
            skip = len("passage: ")
            for i, (t, (x, y)) in enumerate(zip(enc.tokens[:512], enc.offsets[:512])):
                if x >= skip and y > x and t not in ("<s>", "</s>"):
                    vecs.append(v[i])
                    pos.append(s0 + x - skip)
            b = e
        stored = (np.array(vecs), np.array(pos))
    scored = []
    for pq in json.load(open(a.eval))["per_question"]:
        q = questions[pq["id"]]
        gold = [g[a.transcript] for g in q["gold_chars"]]
        relevant = [any(min(p["end"], g[1]) > max(p["start"], g[0]) for g in gold) for p in pq["passages"]]
        qv, qt = token_vectors("query: " + q["question"])
        qv = qv[[i for i, t in enumerate(qt) if t not in ("<s>", "</s>", "▁query", ":", "▁")]]
        sims = []
        for ps in pq["passages"]:
            if stored is None:
                pv = token_vectors("passage: " + text[ps["start"] : ps["end"]])[0][1:-1]
            else:
                pv = stored[0][(stored[1] >= ps["start"]) & (stored[1] < ps["end"])]
            sims.append(float((qv @ pv.T).max(axis=1).mean()))
        scored.append((pq["id"], relevant, sims))

    def first(order, relevant):
        return next((r + 1 for r, i in enumerate(order) if relevant[i]), None)

    def metrics(ranks):
        n = len(ranks)
        hit = lambda k: sum(r is not None and r <= k for r in ranks) / n
        mrr = sum(1 / r for r in ranks if r is not None and r <= 5) / n
        return f"hit@1 {hit(1):.2f} hit@3 {hit(3):.2f} hit@5 {hit(5):.2f} MRR@5 {mrr:.3f}"

    show = lambda ranks: " ".join(str(r) if r else "-" for r in ranks)
    kogi = [first(range(len(rel)), rel) for _, rel, _ in scored]
    print(f"{a.transcript} kogi as it is:       {show(kogi)}  {metrics(kogi)}")
    for pool in (5, 10, 20):
        ranks = []
        for _, rel, sims in scored:
            rel, sims = rel[:pool], sims[:pool]
            by_sim = sorted(range(len(sims)), key=lambda j: -sims[j])
            pos = {i: r for r, i in enumerate(by_sim)}
            order = sorted(range(len(sims)), key=lambda i: -(1 / (11 + i) + 1 / (11 + pos[i])))
            ranks.append(first(order, rel))
        print(f"{a.transcript} + MaxSim, pool {pool:2}:   {show(ranks)}  {metrics(ranks)}")


if __name__ == "__main__":
    main()
