//! `kogi bench generate`: time to first token and decode speed, plain greedy vs n-gram speculation,
//! measured side by side in one run on the same prompts, with the outputs compared token for token.

use crate::output::Out;
use anyhow::{Context, Result, bail};
use kogi_core::app::Config;
use kogi_core::generate::chat::Message;
use kogi_core::generate::engine::{Generate, GenerateParams, Generation, LanguageModel};
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
    let built = kogi_core::answer::prompt::build(&lm.tokenizer, RAG_QUESTION, &passages, kogi_core::answer::prompt::Lang::En, false, 4096)?;
    Ok(built.tokens)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(args: &crate::bench::BenchArgs, cfg: &Config, out: &Out) -> Result<()> {
    let (model, new_tokens, prompt_lengths, chat, ngram, runs) =
        (&args.model, args.new_tokens, &args.prompt_tokens[..], args.chat.as_deref(), &args.ngram[..], args.runs);
    let ngram = match ngram {
        [max_n, min_n, max_k] => NgramConfig { max_n: *max_n, min_n: *min_n, max_k: *max_k, ..Default::default() },
        _ => bail!("--ngram takes three numbers: max_n,min_n,max_k"),
    };
    ngram.validate()?;
    let dir = model.clone().unwrap_or_else(|| kogi_core::paths::models_dir().join("smollm2-135m-instruct"));
    let session = SessionConfig { provider: cfg.provider, threads: cfg.threads, ..Default::default() };
    let mut lm = LanguageModel::open(&dir, &session)?;
    let cancel = AtomicBool::new(false);
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
    let mut results = Vec::new();
    for (name, prompt) in &prompts {
        let plain_params = GenerateParams { max_new_tokens: new_tokens, ..Default::default() };
        let spec_params = GenerateParams { speculative: Some(ngram.clone()), ..plain_params.clone() };
        // Warm-up (allocations, kernels) is not measured.
        lm.generate(prompt, &GenerateParams { max_new_tokens: 4, ..Default::default() }, &mut |_| {}, &cancel)?;
        let fast_params = GenerateParams { exact_steps: false, ..plain_params.clone() };
        let mut plain: Vec<Generation> = Vec::new();
        let mut fast: Vec<Generation> = Vec::new();
        let mut spec: Vec<Generation> = Vec::new();
        // Interleave the three so that machine noise hits all alike.
        for _ in 0..runs.max(1) {
            plain.push(lm.generate(prompt, &plain_params, &mut |_| {}, &cancel)?);
            fast.push(lm.generate(prompt, &fast_params, &mut |_| {}, &cancel)?);
            spec.push(lm.generate(prompt, &spec_params, &mut |_| {}, &cancel)?);
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
        let p_tps = median(plain.iter().map(|g| g.stats.decode_tokens_per_s).collect());
        let f_tps = median(fast.iter().map(|g| g.stats.decode_tokens_per_s).collect());
        let s_tps = median(spec.iter().map(|g| g.stats.decode_tokens_per_s).collect());
        let s0 = &spec[0].stats;
        results.push(serde_json::json!({
            "prompt": name,
            "prompt_tokens": prompt.len(),
            "new_tokens": plain[0].tokens.len(),
            "finish": plain[0].finish,
            "plain": {
                "ttft_ms": median(plain.iter().map(|g| g.stats.ttft_ms).collect()),
                "decode_tokens_per_s": p_tps,
            },
            "plain_one_row_steps": {
                "ttft_ms": median(fast.iter().map(|g| g.stats.ttft_ms).collect()),
                "decode_tokens_per_s": f_tps,
                "same_tokens_as_exact": fast[0].tokens == plain[0].tokens,
            },
            "speculative": {
                "ttft_ms": median(spec.iter().map(|g| g.stats.ttft_ms).collect()),
                "decode_tokens_per_s": s_tps,
                "acceptance_rate": s0.acceptance_rate(),
                "drafted": s0.drafted,
                "accepted": s0.accepted,
                "tokens_per_forward_pass": s0.new_tokens as f64 / s0.forward_passes.max(1) as f64,
            },
            "speedup": s_tps / p_tps,
            "speedup_vs_one_row_steps": s_tps / f_tps,
            "identical_output": identical,
            "text": plain[0].text,
        }));
    }
    let report = serde_json::json!({
        "bench": "generate", "model": dir, "layout": lm.decoder.info.layout, "provider": lm.decoder.provider.to_string(),
        "threads": cfg.threads, "runs": runs, "ngram": ngram, "results": results,
    });
    if !out.json(&report) {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
