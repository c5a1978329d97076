#!/usr/bin/env python3
"""transformers `generate()` in bf16 on the Llama-3.2-3B / Llama-3-8B architectures (random weights), the
seed notebook's method, plus the memory-bandwidth ceiling: weight bytes ÷ measured device-to-device copy
bandwidth (bytes read + bytes written per second). Runs on the GPU machine; prints one JSON object.

  hf_baseline.py --tokenizer tokenizer.json --archs 3b,8b --prompts 512,2048 --new 256
"""
import argparse, json, math, time

import torch
from tokenizers import Tokenizer
from transformers import LlamaConfig, LlamaForCausalLM

# The text kogi's `bench generate` cycles for synthetic prompts (bench_generate.rs RAG_PASSAGES).
PASSAGES = [
    "Scaling laws describe how the test loss of a language model falls as a power law when compute, data and the number of parameters grow together. Plotted on log-log axes, the loss against compute is close to a straight line.",
    "The Chinchilla paper found that for a fixed compute budget the optimal number of training tokens is about twenty times the number of parameters, so a 70 billion parameter model should be trained on about 1.4 trillion tokens.",
    "The compute needed to train a transformer is roughly six times the number of parameters times the number of training tokens. This simple formula is used to plan training runs before they start.",
    "Inference time scaling means spending more compute when answering: the model thinks longer on hard questions, samples several answers, or checks its steps with a reward model, and accuracy keeps improving as that compute grows.",
]
COMMON = dict(vocab_size=128256, rope_theta=500000.0, max_position_embeddings=8192, bos_token_id=128000,
              eos_token_id=128009, rms_norm_eps=1e-5)
ARCHS = {"3b": dict(hidden_size=3072, intermediate_size=8192, num_hidden_layers=28, num_attention_heads=24,
                    num_key_value_heads=8, tie_word_embeddings=True, **COMMON),
         "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                    num_key_value_heads=8, tie_word_embeddings=False, **COMMON)}


def copy_bandwidth(gib=4, reps=30):
    """Device-to-device copy of a large buffer (far over the 60 MB L2), random data, timed with events."""
    n = gib * (1 << 30) // 2
    src = torch.randn(n, device="cuda", dtype=torch.float16)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); dst.copy_(src); b.record(); b.synchronize()
        times.append(a.elapsed_time(b) / 1e3)
    times.sort()
    med = times[len(times) // 2]
    moved = 2 * src.numel() * src.element_size()
    del src, dst
    torch.cuda.empty_cache()
    return {"buffer_bytes": n * 2, "median_s": med, "bytes_per_s": moved / med, "best_bytes_per_s": moved / times[0]}


def timed(fn):
    torch.cuda.synchronize(); t = time.perf_counter(); out = fn(); torch.cuda.synchronize()
    return time.perf_counter() - t, out


def bench_arch(arch, tok, prompts, new, runs):
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(LlamaConfig(**ARCHS[arch])).eval()
    torch.set_default_dtype(torch.float32)
    params = sum(p.numel() for p in model.parameters())
    unit = tok.encode(" ".join(PASSAGES)).ids
    res = {"arch": arch, "parameters": params, "weight_bytes_bf16": params * 2, "dtype": "bfloat16",
           "transformers_generate": []}
    torch.cuda.reset_peak_memory_stats()
    for n in prompts:
        ids = torch.tensor([[unit[i % len(unit)] for i in range(n)]], device="cuda")
        mask = torch.ones_like(ids)
        gen = lambda k: model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=k, min_new_tokens=k,
                                       do_sample=False, pad_token_id=128001)
        with torch.inference_mode():
            gen(8)  # warm-up
            ttft, decode = [], []
            for _ in range(runs):
                t1, _ = timed(lambda: gen(1))
                tn, out = timed(lambda: gen(new))
                assert out.shape[1] == n + new
                ttft.append(t1 * 1e3)
                decode.append((new - 1) / (tn - t1))
        res["transformers_generate"].append({"prompt_tokens": n, "new_tokens": new, "ttft_ms": sorted(ttft)[len(ttft) // 2],
                                             "decode_tokens_per_s": sorted(decode)[len(decode) // 2],
                                             "ttft_ms_all": ttft, "decode_tokens_per_s_all": decode})
        print(json.dumps({"arch": arch, **res["transformers_generate"][-1]}), flush=True)
    res["peak_memory_bytes"] = torch.cuda.max_memory_allocated()
    del model
    torch.cuda.empty_cache()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--archs", default="3b,8b")
    ap.add_argument("--prompts", default="512,2048")
    ap.add_argument("--new", type=int, default=256)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    import transformers
    tok = Tokenizer.from_file(a.tokenizer)
    report = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "transformers": transformers.__version__,
              "copy_bandwidth": copy_bandwidth(), "archs": []}
    print(json.dumps({"copy_bandwidth": report["copy_bandwidth"]}), flush=True)
    bw = report["copy_bandwidth"]["bytes_per_s"]
    for arch in a.archs.split(","):
        r = bench_arch(arch, tok, [int(x) for x in a.prompts.split(",")], a.new, a.runs)
        cfg = ARCHS[arch]
        embed = cfg["vocab_size"] * cfg["hidden_size"] * 2
        # A decode step reads every weight once, except the embedding table when it is not also the lm_head.
        read = r["weight_bytes_bf16"] - (0 if cfg["tie_word_embeddings"] else embed)
        r["ceiling_tokens_per_s"] = {"all_weight_bytes": bw / r["weight_bytes_bf16"], "bytes_read_per_step": bw / read,
                                     "bytes_read_per_step_value": read}
        report["archs"].append(r)
        with open(a.out, "w") as f:
            json.dump(report, f, indent=2)
    print(json.dumps({a["arch"]: a["ceiling_tokens_per_s"] for a in report["archs"]}))


if __name__ == "__main__":
    main()
