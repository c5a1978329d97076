//! The decoder engine on tiny random-weight Llama models in both ONNX layouts (made here by the
//! project's own exporter), and on the real default SmolLM2.

mod support;

use kogi_core::generate::{FinishReason, GenerateParams, LanguageModel};
use kogi_core::generate::speculative::NgramConfig;
use kogi_core::generate::sampling::SamplingParams;
use kogi_core::inference::runtime::{Provider, SessionConfig};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

fn cpu() -> SessionConfig {
    SessionConfig { provider: Provider::Cpu, threads: Some(2), ..Default::default() }
}

fn smollm2() -> PathBuf {
    support::models_dir().join("smollm2-135m-instruct")
}

/// A tiny random model (2 layers, hidden 64) with SmolLM2's tokenizer and template, built once.
fn tiny(layout: &str) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let root = DIR.get_or_init(|| tempfile::tempdir().unwrap()).path().to_owned();
    let out = root.join(layout);
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap();
    if !out.join("model.onnx").is_file() {
        let py = support::repo().join(".kogi/venv/bin/python");
        let status = std::process::Command::new(py)
            .arg(support::repo().join("models/tools/llama_onnx.py"))
            .args(["random", "--layout", layout, "--seed", "7", "--out"])
            .arg(&out)
            .arg("--tokenizer")
            .arg(smollm2().join("tokenizer.json"))
            .stdout(std::process::Stdio::null())
            .status()
            .expect("the model tooling runs (scripts/setup.sh makes .kogi/venv)");
        assert!(status.success());
        std::fs::copy(smollm2().join("chat_template.jinja"), out.join("chat_template.jinja")).unwrap();
    }
    out
}

fn open(dir: &Path) -> LanguageModel {
    LanguageModel::open(dir, &cpu()).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn greedy(max: usize) -> GenerateParams {
    GenerateParams { max_new_tokens: max, ..Default::default() }
}

fn run(lm: &mut LanguageModel, prompt: &[u32], p: &GenerateParams) -> kogi_core::generate::Generation {
    lm.generate(prompt, p, &mut |_| {}, &AtomicBool::new(false)).unwrap()
}

fn prompt(lm: &LanguageModel) -> Vec<u32> {
    let mut ids = vec![1];
    ids.extend(lm.tokenizer.encode("The lecture said that scaling laws relate loss, compute and data. The lecture said that").unwrap());
    ids
}

#[test]
fn both_layouts_load_and_report_their_shape() {
    for layout in ["genai", "optimum"] {
        let lm = open(&tiny(layout));
        let info = &lm.decoder.info;
        assert_eq!((info.layers, info.kv_heads, info.head_dim, info.vocab), (2, 2, 16, 49152), "{layout}");
        assert_eq!(format!("{:?}", info.layout).to_lowercase(), layout);
    }
}

#[test]
fn cached_decoding_gives_the_logits_of_an_uncached_pass() {
    for layout in ["genai", "optimum"] {
        let mut lm = open(&tiny(layout));
        let ids = prompt(&lm);
        let v = lm.decoder.info.vocab;
        // Uncached: the whole sequence in one pass, logits of every position.
        let mut full = lm.decoder.new_cache(1, 128).unwrap();
        let all = lm.decoder.forward(&mut full, &ids, ids.len()).unwrap();
        // Cached: a prefix, then the rest in small steps.
        let mut cache = lm.decoder.new_cache(1, 128).unwrap();
        lm.decoder.forward(&mut cache, &ids[..5], 1).unwrap();
        let mut pos = 5;
        while pos < ids.len() {
            let end = (pos + 2).min(ids.len());
            let got = lm.decoder.forward(&mut cache, &ids[pos..end], end - pos).unwrap();
            for (i, p) in (pos..end).enumerate() {
                let want = &all[p * v..(p + 1) * v];
                let diff = got[i * v..(i + 1) * v].iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(diff < 1e-4, "{layout}: position {p} differs by {diff}");
            }
            pos = end;
        }
    }
}

#[test]
fn steps_through_a_cache_kept_binding_give_the_logits_of_fresh_bindings_bit_for_bit() {
    let mut lm = open(&tiny("genai"));
    let ids = prompt(&lm);
    let mut passes = |host: bool| {
        lm.decoder.set_host_steps(host);
        let mut cache = lm.decoder.new_cache(1, 128).unwrap();
        let mut out = lm.decoder.forward(&mut cache, &ids[..6], 1).unwrap();
        // One-row steps, two-row steps and a verification-wide pass, with a rollback between.
        for (at, w) in [(6, 1), (7, 1), (8, 2), (10, 5), (15, 1)] {
            out.extend(lm.decoder.forward(&mut cache, &ids[at..at + w], w).unwrap());
            if w == 5 {
                lm.decoder.truncate(&mut cache, 12).unwrap();
                out.extend(lm.decoder.forward(&mut cache, &ids[12..15], 3).unwrap());
            }
        }
        out
    };
    let fresh = passes(false);
    let kept = passes(true);
    assert_eq!(fresh.len(), kept.len());
    assert!(
        fresh
            .iter()
            .zip(&kept)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}

#[test]
fn model_drafts_from_a_built_table_keep_speculative_output_equal_to_greedy() {
    use kogi_core::generate::speculative::BigramTable;
    // The real model's files, linked into a folder of its own (the table is written there).
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(smollm2())
        .unwrap()
        .flatten()
        .filter(|f| f.file_name() != kogi_core::generate::speculative::bigram::FILE)
    {
        std::os::unix::fs::symlink(f.path(), dir.path().join(f.file_name())).unwrap();
    }
    let mut lm = open(dir.path());
    assert!(lm.drafts.is_none());
    let mut seen = Vec::new();
    // The first 2,000 ids: the most frequent pieces (BPE merges the commonest first).
    let table = BigramTable::build(
        &mut lm,
        2000,
        &mut |done, of| seen.push((done, of)),
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(
        (table.len(), seen.last().copied()),
        (2000, Some((2000, 2000)))
    );
    // The table holds the model's own pick after each token, where a reply is being written.
    let mut ids = kogi_core::generate::speculative::bigram::prefix(&lm).unwrap();
    ids.push(421);
    let mut cache = lm.decoder.new_cache(1, ids.len()).unwrap();
    let logits = lm.decoder.forward(&mut cache, &ids, 1).unwrap();
    assert_eq!(
        table.next(421)[0],
        kogi_core::generate::sampling::argmax(&logits)
    );
    table.save(dir.path()).unwrap();
    let mut lm = open(dir.path());
    assert_eq!(lm.drafts.as_deref(), Some(&table));
    // An open question: little in the prompt to copy.
    let p = lm
        .encode_chat(&[kogi_core::generate::chat::Message::user(
            "Explain how a neural network learns.",
        )])
        .unwrap();
    let plain = run(&mut lm, &p, &greedy(48));
    for model_k in [0, 1, 4] {
        let spec = GenerateParams {
            speculative: Some(NgramConfig {
                model_k,
                ..Default::default()
            }),
            ..greedy(48)
        };
        let s = run(&mut lm, &p, &spec);
        assert_eq!(s.tokens, plain.tokens, "model_k {model_k}");
        // The same numbers, not only the same choices: a near-tie elsewhere would flip a token.
        assert_eq!(s.logprob, plain.logprob, "model_k {model_k}");
        assert_eq!(s.stats.model_drafted > 0, model_k > 0, "{:?}", s.stats);
    }
    // A cancelled build stops with Cancelled.
    let cancelled = BigramTable::build(&mut lm, 600, &mut |_, _| {}, &AtomicBool::new(true));
    assert!(matches!(cancelled, Err(kogi_core::Error::Cancelled)));
}

#[test]
fn both_layouts_decode_the_same_greedy_tokens() {
    let a = { let mut lm = open(&tiny("genai")); let p = prompt(&lm); run(&mut lm, &p, &greedy(24)).tokens };
    let b = { let mut lm = open(&tiny("optimum")); let p = prompt(&lm); run(&mut lm, &p, &greedy(24)).tokens };
    assert_eq!(a, b);
}

#[test]
fn speculative_decoding_output_equals_greedy_on_random_models() {
    for layout in ["genai", "optimum"] {
        let mut lm = open(&tiny(layout));
        let p = prompt(&lm);
        let plain = run(&mut lm, &p, &greedy(48));
        for max_k in [1, 3, 8] {
            let spec = GenerateParams { speculative: Some(NgramConfig { max_k, ..Default::default() }), ..greedy(48) };
            let s = run(&mut lm, &p, &spec);
            assert_eq!(s.tokens, plain.tokens, "{layout} max_k {max_k}");
            assert_eq!(s.logprob, plain.logprob, "{layout} max_k {max_k}");
            assert_eq!(s.text, plain.text);
        }
    }
}

#[test]
fn speculative_decoding_output_equals_greedy_on_the_real_model_and_saves_passes() {
    let mut lm = open(&smollm2());
    let msgs = vec![
        kogi_core::generate::chat::Message::system("Answer using the passage. Quote it word for word."),
        kogi_core::generate::chat::Message::user(
            "Passage: The Chinchilla paper found that the optimal number of training tokens is about twenty times the number of parameters.\nQuestion: What did the Chinchilla paper find?",
        ),
    ];
    let p = lm.encode_chat(&msgs).unwrap();
    let plain = run(&mut lm, &p, &greedy(64));
    let spec = run(&mut lm, &p, &GenerateParams { speculative: Some(NgramConfig::default()), ..greedy(64) });
    assert_eq!(spec.tokens, plain.tokens);
    assert_eq!(spec.logprob, plain.logprob);
    assert!(spec.stats.accepted > 0, "{:?}", spec.stats);
    assert!(spec.stats.forward_passes < plain.stats.forward_passes, "{:?} vs {:?}", spec.stats, plain.stats);
}

/// A prompt longer than the attention kernel's step passes (283 tokens) is computed by its prompt
/// path, which rounds differently; plain steps recompute the prompt's last position, so the first
/// speculative pass must too, even when it has a draft (the model's own drafts give one at once).
#[test]
fn speculative_decoding_equals_greedy_after_a_long_prompt_whose_first_pass_has_a_draft() {
    let mut lm = open(&smollm2());
    assert!(lm.drafts.is_some(), "the set-up computes the default model's own drafts (kogi models drafts)");
    let p = kogi_core::bench::generate::rag_prompt(&lm, kogi_core::bench::generate::RAG_QUESTION).unwrap();
    assert!(p.len() > kogi_core::generate::onnx::attention::MAX_STEP_ROWS);
    let plain = run(&mut lm, &p, &greedy(32));
    let spec = run(&mut lm, &p, &GenerateParams { speculative: Some(NgramConfig::default()), ..greedy(32) });
    assert!(spec.stats.model_drafted > 0, "{:?}", spec.stats);
    assert_eq!(spec.tokens, plain.tokens);
    assert_eq!(spec.logprob, plain.logprob);
}

#[test]
fn kogis_int4_kernel_keeps_the_answer_and_speculation_equal_to_greedy() {
    if !kogi_core::generate::onnx::nbits::vector() {
        eprintln!("kogi's MatMulNBits kernel needs AVX-512 VNNI or AVX2 with FMA, which this CPU lacks: ONNX Runtime's runs");
        return;
    }
    let mut lm = open(&smollm2());
    assert!(lm.decoder.rows_independent, "every attention and int4 node on kogi's kernels: exact greedy steps are one row");
    let mut p = vec![lm.tokenizer.bos_id().unwrap()];
    p.extend(lm.tokenizer.encode("The capital of France is").unwrap());
    assert!(run(&mut lm, &p, &greedy(4)).text.starts_with(" Paris"));
    let rag = kogi_core::bench::generate::rag_prompt(&lm, kogi_core::bench::generate::RAG_QUESTION).unwrap();
    let plain = run(&mut lm, &rag, &greedy(32));
    let spec = run(&mut lm, &rag, &GenerateParams { speculative: Some(NgramConfig::default()), ..greedy(32) });
    assert_eq!((spec.tokens, spec.logprob), (plain.tokens, plain.logprob));
}

#[test]
fn the_real_model_knows_the_capital_of_france() {
    let mut lm = open(&smollm2());
    let mut p = vec![lm.tokenizer.bos_id().unwrap()];
    p.extend(lm.tokenizer.encode("The capital of France is").unwrap());
    let g = run(&mut lm, &p, &greedy(4));
    assert!(g.text.starts_with(" Paris"), "{:?}", g.text);
}

#[test]
fn generation_stops_at_the_limit_an_end_of_turn_id_or_a_stop_string() {
    let mut lm = open(&tiny("genai"));
    let p = prompt(&lm);
    let free = run(&mut lm, &p, &greedy(12));
    assert_eq!(free.finish, FinishReason::MaxTokens);
    assert_eq!(free.tokens.len(), 12);
    // A stop id: generation ends before the first occurrence of the fifth token.
    let stop = free.tokens[4];
    let first = free.tokens.iter().position(|&t| t == stop).unwrap();
    let g = run(&mut lm, &p, &GenerateParams { stop_ids: vec![stop], ..greedy(12) });
    assert_eq!(g.finish, FinishReason::EndOfTurn);
    assert_eq!(g.tokens, free.tokens[..first]);
    // A stop string: the text ends right before it, and the string is not part of the answer.
    let text = free.text.clone();
    let cut = text.char_indices().nth(text.chars().count() / 2).map(|(i, _)| i).unwrap();
    let stop_str: String = text[cut..].chars().take(3).collect();
    let g = run(&mut lm, &p, &GenerateParams { stop_strings: vec![stop_str.clone()], ..greedy(12) });
    assert_eq!(g.finish, FinishReason::StopString);
    assert_eq!(g.text, text[..text.find(&stop_str).unwrap()]);
    // Cancelled mid-way.
    let g = lm.generate(&p, &greedy(12), &mut |_| {}, &AtomicBool::new(true)).unwrap();
    assert_eq!(g.finish, FinishReason::Cancelled);
    assert_eq!(g.tokens.len(), 1);
}

#[test]
fn tokens_stream_through_a_channel_while_generation_runs() {
    let mut lm = open(&smollm2());
    let p = lm.encode_chat(&[kogi_core::generate::chat::Message::user("Count from one to five.")]).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let g = std::thread::scope(|s| {
        let reader = s.spawn(move || rx.iter().collect::<Vec<String>>());
        let mut sink = kogi_core::generate::channel_sink(tx);
        let g = lm.generate(&p, &greedy(16), &mut sink, &AtomicBool::new(false)).unwrap();
        drop(sink);
        (g, reader.join().unwrap())
    });
    assert_eq!(g.1.concat(), g.0.text);
    assert!(g.1.len() > 1);
}

#[test]
fn streamed_text_adds_up_to_the_answer() {
    let mut lm = open(&smollm2());
    let p = lm.encode_chat(&[kogi_core::generate::chat::Message::user("Say hello in Japanese and English.")]).unwrap();
    let mut streamed = String::new();
    let mut pieces = 0;
    let g = lm.generate(&p, &greedy(24), &mut |t| { streamed.push_str(t); pieces += 1; }, &AtomicBool::new(false)).unwrap();
    assert_eq!(streamed, g.text);
    assert!(pieces > 3);
}

#[test]
fn a_fixed_seed_reproduces_a_sample_and_batches_reproduce_too() {
    // The real model: random weights give nearly one-hot distributions, where every seed agrees.
    let mut lm = open(&smollm2());
    let p = prompt(&lm);
    let sampled = |seed| GenerateParams {
        sampling: SamplingParams { temperature: 1.0, top_k: 50, top_p: 0.9, seed: Some(seed), ..Default::default() },
        ..greedy(16)
    };
    let a = run(&mut lm, &p, &sampled(3));
    let b = run(&mut lm, &p, &sampled(3));
    let c = run(&mut lm, &p, &sampled(4));
    assert_eq!(a.tokens, b.tokens);
    assert_ne!(a.tokens, c.tokens);
    let cancel = AtomicBool::new(false);
    let x = lm.generate_many(&p, 3, &sampled(9), &cancel).unwrap();
    let y = lm.generate_many(&p, 3, &sampled(9), &cancel).unwrap();
    assert_eq!(x.len(), 3);
    assert_eq!(x.iter().map(|g| &g.tokens).collect::<Vec<_>>(), y.iter().map(|g| &g.tokens).collect::<Vec<_>>());
    assert_ne!(x[0].tokens, x[1].tokens, "rows sample with different seeds");
}

#[test]
fn beam_search_with_one_beam_is_greedy_and_wider_beams_score_at_least_as_well() {
    let mut lm = open(&tiny("genai"));
    let p = prompt(&lm);
    let cancel = AtomicBool::new(false);
    let g = run(&mut lm, &p, &greedy(10));
    let b1 = lm.beam_search(&p, 1, &greedy(10), &mut |_| {}, &cancel).unwrap();
    assert_eq!(b1.tokens, g.tokens);
    let b4 = lm.beam_search(&p, 4, &greedy(10), &mut |_| {}, &cancel).unwrap();
    assert_eq!(b4.tokens.len(), 10);
    assert!(b4.logprob >= g.logprob - 1e-3, "beam {} < greedy {}", b4.logprob, g.logprob);
}

#[test]
fn yes_no_scoring_prefers_the_relevant_passage() {
    use kogi_core::answer::rerank::LlmJudge;
    use kogi_core::generate::chat::Message;
    let mut lm = open(&smollm2());
    let ask = |passage: &str| kogi_core::generate::Chat::new(vec![
        Message::system("Answer with yes or no."),
        Message::user(format!("Question: What is the capital of France?\nPassage: {passage}\nIs this passage directly relevant to the question? Answer yes or no.")),
    ]);
    let p = LlmJudge::new(&mut lm)
        .yes_probability(&[ask("Paris is the capital and largest city of France."), ask("Bananas are rich in potassium.")])
        .unwrap();
    assert!(p[0] > p[1], "{p:?}");
    assert!(p.iter().all(|x| (0.0..=1.0).contains(x)));
}

#[test]
fn a_prompt_longer_than_the_window_is_an_error_not_a_panic() {
    let mut lm = open(&tiny("genai"));
    let long: Vec<u32> = (0..600).map(|i| 100 + i % 50).collect();
    let e = lm.generate(&long, &greedy(4), &mut |_| {}, &AtomicBool::new(false)).unwrap_err();
    assert!(e.to_string().contains("context window"), "{e}");
}

#[test]
fn a_model_folder_missing_a_file_names_it() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "genai_config.json"] {
        std::fs::copy(tiny("genai").join(f), dir.path().join(f)).unwrap();
    }
    let e = LanguageModel::open(dir.path(), &cpu()).err().expect("no model.onnx");
    assert!(e.to_string().contains("model.onnx"), "{e}");
}
