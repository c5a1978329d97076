//! `kogi bench generate`: time to first token and decode speed, plain greedy vs n-gram speculation,
//! measured side by side in one run on the same prompts, with the outputs compared token for token.

use crate::output::Out;
use anyhow::{Context, Result, bail};
use kogi_core::settings::Settings as Config;
use kogi_core::generate::chat::Message;
use kogi_core::generate::engine::{GenerateParams, Generation, LanguageModel};
use kogi_core::generate::ngram::NgramConfig;
use kogi_core::inference::runtime::SessionConfig;
use std::sync::atomic::AtomicBool;

/// A retrieval-augmented prompt whose answer should quote its passages: where prompt lookup pays.
pub const RAG_PASSAGES: &[&str] = &[
    "Scaling laws describe how the test loss of a language model falls as a power law when compute, data and the number of parameters grow together. Plotted on log-log axes, the loss against compute is close to a straight line.",
    "The Chinchilla paper found that for a fixed compute budget the optimal number of training tokens is about twenty times the number of parameters, so a 70 billion parameter model should be trained on about 1.4 trillion tokens.",
    "The compute needed to train a transformer is roughly six times the number of parameters times the number of training tokens. This simple formula is used to plan training runs before they start.",
    "Inference time scaling means spending more compute when answering: the model thinks longer on hard questions, samples several answers, or checks its steps with a reward model, and accuracy keeps improving as that compute grows.",
];
pub const RAG_QUESTION: &str = "What does the lecture say about the optimal number of training tokens and about the compute needed for training?";

/// The prompt `kogi ask` builds (English) for the built-in passages.
fn rag_prompt(lm: &LanguageModel) -> Result<Vec<u32>> {
    rag_prompt_for(lm, RAG_QUESTION)
}

fn rag_prompt_for(lm: &LanguageModel, question: &str) -> Result<Vec<u32>> {
    use kogi_core::retrieval::Passage;
    let passages: Vec<Passage> = RAG_PASSAGES
        .iter()
        .enumerate()
        .map(|(i, t)| Passage {
            lecture: kogi_core::lecture::LectureId(1),
            title: "Scaling laws".into(),
            course: None,
            revision: kogi_core::lecture::RevisionId(1),
            span: kogi_core::text::CharSpan::new(i * 1000, i * 1000 + t.chars().count()),
            matched: kogi_core::text::CharSpan::new(i * 1000, i * 1000 + t.chars().count()),
            text: (*t).to_owned(),
            start_ms: None,
            end_ms: None,
            score: 1.0,
            dense: None,
            bm25: None,
        })
        .collect();
    let built = kogi_core::answer::prompt::build(lm, question, &passages, kogi_core::answer::prompt::Lang::En, false, 4096)?;
    Ok(lm.encode_prompt(&built.chat)?)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Questions asked one after another about the RAG passages (memory must stay flat across them).
const QUESTIONS: &[&str] = &[
    RAG_QUESTION,
    "How does the test loss change as compute grows?",
    "What is the formula for the compute needed to train a transformer?",
    "How many tokens should a 70 billion parameter model be trained on?",
    "What is inference time scaling?",
    "What do scaling laws look like on log-log axes?",
    "What did the Chinchilla paper find?",
    "Why is the six times formula useful before training starts?",
    "How can a model spend more compute when answering?",
    "What grows together in a scaling law?",
];

/// Memory in use on the GPU (MiB) as nvidia-smi reports it, when there is one.
fn gpu_memory_mib() -> Option<u64> {
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=memory.used", "--format=csv,noheader,nounits"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).lines().next()?.trim().parse().ok()
}

pub fn run(args: &crate::bench::BenchArgs, cfg: &Config, out: &Out) -> Result<()> {
    let (model, new_tokens, prompt_lengths, chat, ngram, runs) =
        (&args.model, args.new_tokens, &args.prompt_tokens[..], args.chat.as_deref(), &args.ngram[..], args.runs);
    let ngram = match ngram {
        [max_n, min_n, max_k] => NgramConfig { max_n: *max_n, min_n: *min_n, max_k: *max_k, ..Default::default() },
        _ => bail!("--ngram takes three numbers: max_n,min_n,max_k"),
    };
    ngram.validate()?;
    for v in &args.variants {
        if !["plain", "fast", "spec"].contains(&v.as_str()) {
            bail!("unknown variant {v:?}: use plain, fast or spec");
        }
    }
    let has = |v: &str| args.variants.iter().any(|x| x == v);
    let dir = model.clone().unwrap_or_else(|| kogi_core::paths::models_dir().join("smollm2-135m-instruct"));
    let session = SessionConfig { provider: cfg.provider, threads: cfg.threads, cuda_graph: args.cuda_graph, ..Default::default() };
    let load = std::time::Instant::now();
    let mut lm = LanguageModel::open_with(&dir, &session, args.device_steps)?;
    let load_s = load.elapsed().as_secs_f64();
    let cancel = AtomicBool::new(false);
    let mem_after_load = args.gpu_memory.then(gpu_memory_mib).flatten();
    // The prompts: the RAG prompt, or synthetic ones of given lengths (real tokenizer, real text).
    let mut prompts: Vec<(String, Vec<u32>)> = Vec::new();
    if let Some(path) = chat {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let messages: Vec<Message> = serde_json::from_str(&text).with_context(|| format!("{}: not a list of messages", path.display()))?;
        prompts.push((path.display().to_string(), lm.encode_chat(&messages)?));
    } else if prompt_lengths.is_empty() {
        prompts.push(("rag".into(), rag_prompt(&lm)?));
    } else {
        let text: String = RAG_PASSAGES.join(" ");
        let unit = lm.tokenizer.encode(&text)?;
        for &n in prompt_lengths {
            let ids: Vec<u32> = unit.iter().copied().cycle().take(n).collect();
            prompts.push((format!("synthetic-{n}"), ids));
        }
    }
    let mut gpu_mem_mib: Vec<u64> = Vec::new();
    let mut results = Vec::new();
    for (name, prompt) in &prompts {
        let plain_params = GenerateParams { max_new_tokens: new_tokens, prefill_chunk: args.prefill_chunk, ..Default::default() };
        let spec_params = GenerateParams { speculative: Some(ngram.clone()), ..plain_params.clone() };
        let fast_params = GenerateParams { exact_steps: false, ..plain_params.clone() };
        // Warm-up (allocations, kernels, graph capture) is not measured.
        for p in [&plain_params, &fast_params] {
            lm.generate(prompt, &GenerateParams { max_new_tokens: 8, ..p.clone() }, &mut |_| {}, &cancel)?;
        }
        let mut plain: Vec<Generation> = Vec::new();
        let mut fast: Vec<Generation> = Vec::new();
        let mut spec: Vec<Generation> = Vec::new();
        // Interleave the variants so that machine noise hits all alike.
        for _ in 0..runs.max(1) {
            for (v, params, into) in
                [("plain", &plain_params, &mut plain), ("fast", &fast_params, &mut fast), ("spec", &spec_params, &mut spec)]
            {
                if has(v) {
                    into.push(lm.generate(prompt, params, &mut |_| {}, &cancel)?);
                    if args.gpu_memory {
                        gpu_mem_mib.extend(gpu_memory_mib());
                    }
                }
            }
        }
        let identical = plain.iter().zip(&spec).all(|(a, b)| a.tokens == b.tokens);
        if !identical {
            let (a, b) = (&plain[0].tokens, &spec[0].tokens);
            let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
            bail!(
                "speculative output differs from plain greedy output on prompt {name} at token {at} — this is a bug\nplain: {:?}\nspeculative: {:?}",
                &a[at.saturating_sub(3)..a.len().min(at + 5)],
                &b[at.saturating_sub(3)..b.len().min(at + 5)]
            );
        }
        let summary = |g: &[Generation]| {
            if g.is_empty() {
                return serde_json::Value::Null;
            }
            serde_json::json!({
                "ttft_ms": median(g.iter().map(|g| g.stats.ttft_ms).collect()),
                "decode_tokens_per_s": median(g.iter().map(|g| g.stats.decode_tokens_per_s).collect()),
                "new_tokens": g[0].tokens.len(),
                "finish": g[0].finish,
                "ttft_ms_all": g.iter().map(|g| g.stats.ttft_ms).collect::<Vec<_>>(),
                "decode_tokens_per_s_all": g.iter().map(|g| g.stats.decode_tokens_per_s).collect::<Vec<_>>(),
            })
        };
        let tps = |g: &[Generation]| (!g.is_empty()).then(|| median(g.iter().map(|g| g.stats.decode_tokens_per_s).collect()));
        let mut r = serde_json::json!({
            "prompt": name,
            "prompt_tokens": prompt.len(),
            "plain": summary(&plain),
            "plain_one_row_steps": summary(&fast),
            "speculative": summary(&spec),
        });
        if let (Some(f), Some(p)) = (fast.first(), plain.first()) {
            r["plain_one_row_steps"]["same_tokens_as_exact"] = serde_json::json!(f.tokens == p.tokens);
        }
        if let Some(s0) = spec.first().map(|g| &g.stats) {
            r["speculative"]["acceptance_rate"] = serde_json::json!(s0.acceptance_rate());
            r["speculative"]["drafted"] = serde_json::json!(s0.drafted);
            r["speculative"]["accepted"] = serde_json::json!(s0.accepted);
            r["speculative"]["tokens_per_forward_pass"] = serde_json::json!(s0.new_tokens as f64 / s0.forward_passes.max(1) as f64);
        }
        if let (Some(s), Some(p)) = (tps(&spec), tps(&plain)) {
            r["speedup"] = serde_json::json!(s / p);
            r["identical_output"] = serde_json::json!(identical);
        }
        if let (Some(s), Some(f)) = (tps(&spec), tps(&fast)) {
            r["speedup_vs_one_row_steps"] = serde_json::json!(s / f);
        }
        if let Some(g) = plain.first().or(fast.first()).or(spec.first()) {
            r["text"] = serde_json::json!(g.text);
        }
        results.push(r);
    }
    let verify = if args.verify_k > 0 { Some(verify_cost(&mut lm, &prompts[0].1, args.verify_k, args.prefill_chunk)?) } else { None };
    let mut questions = Vec::new();
    for q in QUESTIONS.iter().cycle().take(args.questions) {
        let prompt = rag_prompt_for(&lm, q)?;
        let params = GenerateParams { max_new_tokens: new_tokens, prefill_chunk: args.prefill_chunk, ..Default::default() };
        let g = lm.generate(&prompt, &params, &mut |_| {}, &cancel)?;
        questions.push(serde_json::json!({
            "question": q, "prompt_tokens": prompt.len(), "new_tokens": g.tokens.len(),
            "ttft_ms": g.stats.ttft_ms, "decode_tokens_per_s": g.stats.decode_tokens_per_s,
            "gpu_memory_mib": gpu_memory_mib(),
        }));
    }
    let report = serde_json::json!({
        "bench": "generate", "model": dir, "layout": lm.decoder.info.layout, "provider": lm.decoder.provider.to_string(),
        "picks_on_device": lm.decoder.picks_on_device(), "cuda_graph": lm.decoder.uses_cuda_graph(),
        "cuda_graph_note": lm.decoder.cuda_graph_note, "prefill_chunk": args.prefill_chunk, "load_s": load_s,
        "device_steps_mode": args.device_steps, "step_outputs": lm.decoder.fused_steps(), "step_outputs_note": lm.decoder.fused_note,
        "device_fed_steps": lm.decoder.device_steps(),
        "device_step_counts": lm.decoder.device_step_counts().map(|(steps, uploads)| serde_json::json!({ "steps": steps, "uploads": uploads })),
        "threads": cfg.threads, "runs": runs, "ngram": ngram, "results": results,
        "gpu_memory_mib": { "after_load": mem_after_load, "after_each_generation": gpu_mem_mib },
        "verify_cost": verify, "questions": questions,
    });
    if !out.json(&report) {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

/// Time one forward pass that verifies K drafted tokens (K+1 rows: the last accepted token and the
/// drafts) against a plain decode step (one row), on the KV cache of `prompt`.
fn verify_cost(lm: &mut LanguageModel, prompt: &[u32], max_k: usize, chunk: usize) -> Result<serde_json::Value> {
    let d = &mut lm.decoder;
    let mut cache = d.new_cache(1, prompt.len() + max_k + 2)?;
    d.prefill_greedy(&mut cache, prompt, chunk)?;
    let base = cache.len;
    let mut rows = Vec::new();
    let mut one_row_ms = 0.0;
    for k in 0..=max_k {
        let feed: Vec<u32> = prompt.iter().copied().cycle().take(k + 1).collect();
        let mut ms = Vec::new();
        for i in 0..23 {
            d.truncate(&mut cache, base)?;
            let t = std::time::Instant::now();
            d.forward_greedy(&mut cache, &feed, k + 1)?;
            if i >= 3 {
                ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let m = median(ms);
        if k == 0 {
            one_row_ms = m;
        }
        rows.push(serde_json::json!({ "drafted_k": k, "rows": k + 1, "ms": m, "relative_to_one_decode_step": m / one_row_ms }));
    }
    Ok(serde_json::json!({ "context_tokens": base, "passes": rows }))
}

/// `kogi bench embed`: passages per second of an embedder folder (manifest.json), passages cut from
/// the transcript (or the built-in RAG passages when there is none).
pub fn embed(args: &crate::bench::BenchArgs, cfg: &Config, out: &Out) -> Result<()> {
    use kogi_core::inference::embed::OnnxEmbedder;
    use kogi_core::inference::manifest::{ModelDir, default_embedder_dir};
    use kogi_core::inference::{Embed, Role};
    let dir = args.model.clone().unwrap_or_else(default_embedder_dir);
    let session = SessionConfig { provider: cfg.provider, threads: cfg.threads, ..Default::default() };
    let embedder = OnnxEmbedder::open(ModelDir::open(&dir)?, &session)?;
    let source: String = match crate::bench::transcript(args) {
        Ok((_, bytes)) => String::from_utf8_lossy(&bytes).split_whitespace().collect::<Vec<_>>().join(" "),
        Err(_) => RAG_PASSAGES.join(" "),
    };
    let chars: Vec<char> = source.chars().collect();
    let pieces: Vec<String> = chars.chunks(args.passage_chars.max(1)).map(|c| c.iter().collect()).collect();
    let texts: Vec<&str> = pieces.iter().map(|s| s.as_str()).cycle().take(args.passages).collect();
    embedder.embed(&texts[..texts.len().min(256)], Role::Passage)?; // warm-up
    let mut secs = Vec::new();
    for _ in 0..args.runs.max(1) {
        let t = std::time::Instant::now();
        let v = embedder.embed(&texts, Role::Passage)?;
        secs.push(t.elapsed().as_secs_f64());
        anyhow::ensure!(v.len() == texts.len() && v.iter().all(|e| e.len() == embedder.dimensions()), "wrong embedding count");
    }
    let s = median(secs.clone());
    let report = serde_json::json!({
        "bench": "embed", "model": dir, "provider": embedder.provider.to_string(), "threads": cfg.threads,
        "passages": texts.len(), "passage_chars": args.passage_chars, "runs": secs.len(), "median_s": s,
        "passages_per_s": texts.len() as f64 / s, "max_batch": embedder.max_batch, "max_batch_tokens": embedder.max_batch_tokens,
        "all_s": secs,
    });
    if !out.json(&report) {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
