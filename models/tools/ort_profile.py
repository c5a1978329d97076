#!/usr/bin/env python3
"""Where a decode step's time goes, from ONNX Runtime's own profile (`kogi bench generate --ort-profile PREFIX`).
Benchmark tooling only.

  ort_profile.py PROFILE.json [--max-tokens 2]

Only runs of at most --max-tokens new tokens per row are counted (decode steps, not prefill): they are told apart
by the input_ids shape ONNX Runtime records on each node. Prints, per run kind, the median run time, the sum of
its nodes' kernel times, what is left (the executor between nodes), and the op types by share of kernel time."""
import argparse
import collections
import json
import statistics


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("profile")
    ap.add_argument("--max-tokens", type=int, default=2)
    a = ap.parse_args()
    events = json.load(open(a.profile))
    runs = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"), key=lambda e: e["ts"])
    nodes = sorted((e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")), key=lambda e: e["ts"])
    # Each node belongs to the run whose span holds it.
    by_run = collections.defaultdict(list)
    i = 0
    for n in nodes:
        while i < len(runs) and runs[i]["ts"] + runs[i]["dur"] < n["ts"]:
            i += 1
        if i < len(runs) and runs[i]["ts"] <= n["ts"]:
            by_run[i].append(n)
    kinds = collections.defaultdict(list)
    for r, ns in by_run.items():
        width = None
        for n in ns:
            # The embedding lookup's int64 input is input_ids: [rows, tokens].
            if "embed_tokens" in n["name"]:
                ids = [list(s.values())[0] for s in n["args"].get("input_type_shape", []) if "int64" in s]
                if ids and ids[0]:
                    width = ids[0][-1]
                    break
        if width is not None and width <= a.max_tokens:
            kinds[width].append((runs[r]["dur"], ns))
    for width, rs in sorted(kinds.items()):
        run_us = statistics.median(d for d, _ in rs)
        node_us = statistics.median(sum(n["dur"] for n in ns) for _, ns in rs)
        by_op = collections.Counter()
        for _, ns in rs:
            for n in ns:
                by_op[n["args"].get("op_name", "?")] += n["dur"]
        total = sum(by_op.values())
        print(f"{len(rs)} runs of {width} token(s) a row: median run {run_us / 1000:.2f} ms, kernels {node_us / 1000:.2f} ms "
              f"({node_us / run_us:.0%}), between kernels {(run_us - node_us) / 1000:.2f} ms, {len(rs[0][1])} nodes a run")
        for op, us in by_op.most_common(8):
            print(f"  {op:36s} {us / total:6.1%}  {us / len(rs) / 1000:.3f} ms a run")


if __name__ == "__main__":
    main()
