//! The code paths the GPU uses, pinned on the CPU (CI has no GPU): greedy choices made by the head
//! graph (argmax and log-probability computed where the logits are, only ids copied back) give the
//! same tokens as host-side argmax, speculation stays identical to plain greedy on that path, and
//! asking for TensorRT where it cannot load is an error that names it.

mod support;

use kogi_core::generate::onnx::decoder::DeviceSteps;
use kogi_core::generate::{GenerateParams, LanguageModel};
use kogi_core::generate::speculative::NgramConfig;
use kogi_core::inference::runtime::{Provider, SessionConfig};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

fn cpu() -> SessionConfig {
    SessionConfig { provider: Provider::Cpu, threads: Some(2), ..Default::default() }
}

/// A tiny random genai-layout model in fp16 (the GPU precision) and one in fp32.
fn tiny(precision: &str) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let root = DIR.get_or_init(|| tempfile::tempdir().unwrap()).path().to_owned();
    let out = root.join(precision);
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap();
    if !out.join("model.onnx").is_file() {
        let smollm2 = support::models_dir().join("smollm2-135m-instruct");
        let status = std::process::Command::new(support::repo().join(".kogi/venv/bin/python"))
            .arg(support::repo().join("models/tools/llama_onnx.py"))
            .args(["random", "--layout", "genai", "--seed", "11", "--precision", precision, "--out"])
            .arg(&out)
            .arg("--tokenizer")
            .arg(smollm2.join("tokenizer.json"))
            .stdout(std::process::Stdio::null())
            .status()
            .expect("the model tooling runs (scripts/setup.sh makes .kogi/venv)");
        assert!(status.success());
        std::fs::copy(smollm2.join("chat_template.jinja"), out.join("chat_template.jinja")).unwrap();
    }
    out
}

fn generate(lm: &mut LanguageModel, prompt: &[u32], p: &GenerateParams) -> kogi_core::generate::Generation {
    lm.generate(prompt, p, &mut |_| {}, &AtomicBool::new(false)).unwrap()
}

fn prompt(lm: &LanguageModel) -> Vec<u32> {
    let mut ids = vec![1];
    ids.extend(lm.tokenizer.encode("The lecture said that scaling laws relate loss, compute and data. The lecture said that").unwrap());
    ids
}

#[test]
fn greedy_head_picks_the_same_tokens_as_host_argmax_in_fp32_and_fp16() {
    for precision in ["fp32", "fp16"] {
        let dir = tiny(precision);
        let mut host = LanguageModel::open(&dir, &cpu()).unwrap();
        let mut head = LanguageModel::open(&dir, &cpu()).unwrap();
        head.decoder.enable_greedy_head(&cpu()).unwrap();
        assert!(head.decoder.picks_on_device() && !host.decoder.picks_on_device());
        let p = prompt(&host);
        for exact_steps in [true, false] {
            let params = GenerateParams { max_new_tokens: 24, exact_steps, prefill_chunk: 5, ..Default::default() };
            let a = generate(&mut host, &p, &params);
            let b = generate(&mut head, &p, &params);
            assert_eq!(a.tokens, b.tokens, "{precision}, exact_steps {exact_steps}");
            // The head computes log-probabilities in float32 on the device: the same up to rounding.
            assert!((a.logprob - b.logprob).abs() < 1e-3 * a.tokens.len() as f64, "{} vs {}", a.logprob, b.logprob);
        }
    }
}

#[test]
fn speculation_on_the_greedy_head_path_is_identical_to_plain_greedy() {
    let dir = tiny("fp16");
    let mut lm = LanguageModel::open(&dir, &cpu()).unwrap();
    lm.decoder.enable_greedy_head(&cpu()).unwrap();
    let p = prompt(&lm);
    let plain = GenerateParams { max_new_tokens: 32, ..Default::default() };
    let spec = GenerateParams { speculative: Some(NgramConfig { max_k: 8, ..Default::default() }), ..plain.clone() };
    let a = generate(&mut lm, &p, &plain);
    let b = generate(&mut lm, &p, &spec);
    assert_eq!(a.tokens, b.tokens);
    assert!(b.stats.forward_passes <= a.stats.forward_passes);
}

#[test]
fn forward_greedy_returns_one_choice_per_wanted_position() {
    let dir = tiny("fp32");
    let mut lm = LanguageModel::open(&dir, &cpu()).unwrap();
    lm.decoder.enable_greedy_head(&cpu()).unwrap();
    let p = prompt(&lm);
    let mut cache = lm.decoder.new_cache(1, 64).unwrap();
    let picked = lm.decoder.forward_greedy(&mut cache, &p, 4).unwrap();
    assert_eq!((picked.ids.len(), picked.logprobs.len()), (4, 4));
    assert!(picked.logprobs.iter().all(|&l| l <= 0.0 && l.is_finite()));
    // The same positions from host logits.
    let mut cache = lm.decoder.new_cache(1, 64).unwrap();
    let logits = lm.decoder.forward(&mut cache, &p, 4).unwrap();
    let v = lm.decoder.info.vocab;
    let host: Vec<u32> = logits.chunks(v).map(kogi_core::generate::sampling::argmax).collect();
    assert_eq!(picked.ids, host);
}

#[test]
fn device_fed_steps_decode_the_same_tokens_as_the_host_path() {
    // The GPU's decode loop: the pick and the next step's ids and mask come out of the decoder run
    // (step outputs added to the graph on load) into fixed buffers, so only the first step of a
    // generation uploads anything. Same tokens as host-side argmax, one-row and exact steps.
    for precision in ["fp32", "fp16"] {
        let dir = tiny(precision);
        let mut host = LanguageModel::open(&dir, &cpu()).unwrap();
        let mut dev = LanguageModel::open_with(&dir, &cpu(), DeviceSteps::On).unwrap();
        assert!(dev.decoder.fused_steps(), "step outputs added: {:?}", dev.decoder.fused_note);
        assert!(dev.decoder.device_steps() && dev.decoder.picks_on_device() && !host.decoder.fused_steps());
        let p = prompt(&host);
        for exact_steps in [true, false] {
            let params = GenerateParams { max_new_tokens: 24, exact_steps, prefill_chunk: 5, ..Default::default() };
            let (steps0, uploads0) = dev.decoder.device_step_counts().unwrap();
            let a = generate(&mut host, &p, &params);
            let b = generate(&mut dev, &p, &params);
            assert_eq!(a.tokens, b.tokens, "{precision}, exact_steps {exact_steps}");
            assert!((a.logprob - b.logprob).abs() < 1e-3 * a.tokens.len() as f64, "{} vs {}", a.logprob, b.logprob);
            let (steps, uploads) = dev.decoder.device_step_counts().unwrap();
            // Every token after the first came from a device-fed step; only the first one uploaded
            // (at most its ids and its mask).
            assert_eq!(steps - steps0, b.tokens.len() as u64 - 1, "{precision}, exact_steps {exact_steps}");
            assert!(uploads - uploads0 <= 2, "{} uploads", uploads - uploads0);
        }
    }
}

#[test]
fn device_fed_steps_stay_right_across_questions_and_with_speculation() {
    // Several generations one after another reuse the same buffers (what is in them from the last
    // question must not leak into the next), and speculative verification passes in between steps
    // leave inputs the host has to upload again: output stays identical to plain greedy on the host.
    let dir = tiny("fp16");
    let mut host = LanguageModel::open(&dir, &cpu()).unwrap();
    let mut dev = LanguageModel::open_with(&dir, &cpu(), DeviceSteps::On).unwrap();
    let base = prompt(&host);
    let plain = GenerateParams { max_new_tokens: 20, ..Default::default() };
    let spec = GenerateParams { speculative: Some(NgramConfig { max_k: 8, ..Default::default() }), ..plain.clone() };
    for cut in [base.len(), base.len() - 3, base.len() - 7] {
        let p = &base[..cut];
        let want = generate(&mut host, p, &plain);
        assert_eq!(generate(&mut dev, p, &plain).tokens, want.tokens, "prompt of {cut}");
        assert_eq!(generate(&mut dev, p, &spec).tokens, want.tokens, "speculation, prompt of {cut}");
    }
}

#[test]
fn speculative_verification_runs_from_the_step_buffers_and_stays_identical() {
    // On the GPU a verification pass (the last token and its drafts) is replayed from the same fixed
    // buffers as a decode step, so it can be a CUDA graph, and a second small graph picks at every
    // position of that pass's logits. Every pass after the prefill comes from those buffers, and the
    // output is still plain greedy's.
    let dir = tiny("fp16");
    let mut host = LanguageModel::open(&dir, &cpu()).unwrap();
    let mut dev = LanguageModel::open_with(&dir, &cpu(), DeviceSteps::On).unwrap();
    // A prompt that repeats itself, so that the n-gram drafter has something to draft.
    let mut p = prompt(&host);
    let again = p[1..].to_vec();
    p.extend(&again);
    let plain = GenerateParams { max_new_tokens: 32, ..Default::default() };
    let spec = GenerateParams { speculative: Some(NgramConfig { max_k: 8, ..Default::default() }), ..plain.clone() };
    let want = generate(&mut host, &p, &plain);
    let (steps0, _) = dev.decoder.device_step_counts().unwrap();
    let got = generate(&mut dev, &p, &spec);
    assert_eq!(got.tokens, want.tokens);
    // Log-probabilities of accepted drafts come from the verification head: the host's numbers.
    assert!((got.logprob - want.logprob).abs() < 1e-3 * want.tokens.len() as f64, "{} vs {}", got.logprob, want.logprob);
    assert!(got.stats.drafted > 0 && got.stats.accepted > 0, "{:?}", got.stats);
    let (steps, _) = dev.decoder.device_step_counts().unwrap();
    // One prefill pass (the prompt fits one chunk); every other pass ran from the step buffers.
    assert_eq!(steps - steps0, got.stats.forward_passes - 1, "{:?}", got.stats);
}

#[test]
fn tensorrt_requested_where_it_cannot_load_is_an_error_naming_it_and_auto_falls_back() {
    let dir = tiny("fp32");
    let trt = SessionConfig { provider: Provider::TensorRt, ..cpu() };
    let err = LanguageModel::open(&dir, &trt).err().expect("TensorRT cannot load without its libraries").to_string();
    assert!(err.contains("tensorrt") || err.contains("TensorRT"), "{err}");
    assert!(err.contains("libnvinfer") || err.contains("TensorRT 10"), "the message says what to install: {err}");
    let auto = SessionConfig { provider: Provider::Auto, ..cpu() };
    let lm = LanguageModel::open(&dir, &auto).unwrap();
    assert_ne!(lm.decoder.provider.in_use, Provider::TensorRt);
    assert!(lm.decoder.provider.fell_back.iter().any(|(p, _)| *p == Provider::TensorRt));
    assert!(lm.decoder.provider.to_string().contains("tensorrt unavailable"));
}

#[test]
fn padded_greedy_prefill_picks_what_an_unpadded_one_picks() {
    // The head pads prefill chunks to a few lengths (new lengths are slow on the GPU); the pick after
    // the prompt and the cache it leaves must be those of the unpadded prompt.
    let dir = tiny("fp32");
    let mut host = LanguageModel::open(&dir, &cpu()).unwrap();
    let mut head = LanguageModel::open(&dir, &cpu()).unwrap();
    head.decoder.enable_greedy_head(&cpu()).unwrap();
    let p = prompt(&host);
    for chunk in [7, 512] {
        let mut a = host.decoder.new_cache(1, 256).unwrap();
        let mut b = head.decoder.new_cache(1, 256).unwrap();
        let want = host.decoder.prefill_greedy(&mut a, &p, chunk).unwrap();
        let got = head.decoder.prefill_greedy(&mut b, &p, chunk).unwrap();
        assert_eq!(want.ids, got.ids);
        assert_eq!(b.len, p.len());
        let next = [want.ids[0]];
        assert_eq!(host.decoder.forward_greedy(&mut a, &next, 1).unwrap().ids, head.decoder.forward_greedy(&mut b, &next, 1).unwrap().ids);
    }
}

#[test]
fn fp16_embedder_matches_its_fp32_graph() {
    // The GPU embedder is the fp16 conversion of the CPU graph and returns fp16 states; on the CPU
    // the two must give the same embeddings up to fp16 rounding.
    use kogi_core::inference::embed::OnnxEmbedder;
    use kogi_core::inference::manifest::ModelDir;
    use kogi_core::inference::{Embed, Role};
    let dir = tempfile::tempdir().unwrap();
    let tokenizer = support::models_dir().join("multilingual-e5-small/tokenizer.json");
    let status = std::process::Command::new(support::repo().join(".kogi/venv/bin/python"))
        .arg(support::repo().join("models/tools/gpu_models.py"))
        .args(["e5", "--tiny", "--seed", "3", "--out"])
        .arg(dir.path())
        .arg("--tokenizer")
        .arg(&tokenizer)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("the model tooling runs (scripts/setup.sh makes .kogi/venv)");
    assert!(status.success());
    let open = |p: &str| OnnxEmbedder::open(ModelDir::open(&dir.path().join(p)).unwrap(), &cpu()).unwrap();
    let (half, full) = (open("fp16"), open("fp32"));
    let texts = ["スケール則とは何ですか？", "The compute needed to train a transformer is about six times N times D.", "短い"];
    let a = half.embed(&texts, Role::Passage).unwrap();
    let b = full.embed(&texts, Role::Passage).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.len(), y.len());
        let cos: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
        assert!(cos > 0.999, "cosine {cos}");
    }
}
