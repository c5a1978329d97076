//! The language-fit signal on real tokenizers: SmolLM2's (English-centred, the default chat model,
//! built by set-up) and Llama 3.1's (from the shared model cache when the checkout sits beside it).

mod support;

use kogi_core::model::fit::{MAX_TOKENS_PER_CHAR, tokens_per_japanese_char};

#[test]
fn an_english_centred_tokenizer_is_told_apart_from_one_that_reads_japanese() {
    let smollm2 = support::models_dir().join("smollm2-135m-instruct/tokenizer.json");
    let t = tokens_per_japanese_char(&smollm2).expect("the default chat model is installed by scripts/setup.sh");
    println!("smollm2: {t:.3} tokens per Japanese character");
    assert!(t > MAX_TOKENS_PER_CHAR, "SmolLM2 spends {t} tokens per character");
    let llama3 = support::repo().join("../shared/models/llama3-tokenizer/tokenizer.json");
    if llama3.is_file() {
        let t = tokens_per_japanese_char(&llama3).unwrap();
        println!("llama3: {t:.3} tokens per Japanese character");
        assert!(t <= MAX_TOKENS_PER_CHAR, "Llama 3 spends {t} tokens per character");
    }
}

/// The figure for a tokenizer given on the command line (`KOGI_FIT_TOKENIZER=path cargo test … -- --ignored`).
#[test]
#[ignore]
fn measure_a_tokenizer_given_by_path() {
    let p = std::env::var("KOGI_FIT_TOKENIZER").expect("KOGI_FIT_TOKENIZER");
    println!("{p}: {:.3} tokens per Japanese character", tokens_per_japanese_char(std::path::Path::new(&p)).unwrap());
}

/// 200 lines of the lecture (Japanese with English terms and numbers) and 20 English ones.
fn mixed_lines() -> Vec<String> {
    let lecture = std::fs::read_to_string(support::repo().join("../shared/data/LLM2024_day4.txt")).expect("the lecture data beside the checkout");
    let mut lines: Vec<String> = lecture.split(['。', '\n']).map(str::trim).filter(|l| l.chars().count() > 5).take(200).map(str::to_owned).collect();
    let readme = std::fs::read_to_string(support::repo().join("README.md")).unwrap();
    lines.extend(readme.lines().filter(|l| l.len() > 40).take(20).map(str::to_owned));
    lines
}

#[test]
fn a_tokenizer_rebuilt_from_gguf_metadata_encodes_like_the_llama3_original() {
    let path = support::repo().join("../shared/models/llama3-tokenizer/tokenizer.json");
    assert!(path.is_file(), "the Llama 3 tokenizer is in ../shared/models");
    let (tokens, types, merges) = support::gpt2_vocab(&path);
    let types: Vec<i64> = types.into_iter().map(i64::from).collect();
    let rebuilt = kogi_core::model::convert::tokenizer::build_bpe(&tokens, &types, &merges, "llama-bpe", &path).unwrap();
    let rebuilt = tokenizers::Tokenizer::from_bytes(rebuilt.as_bytes()).unwrap();
    let original = tokenizers::Tokenizer::from_file(&path).unwrap();
    let lines = mixed_lines();
    for line in &lines {
        let a = original.encode(line.as_str(), false).unwrap();
        let b = rebuilt.encode(line.as_str(), false).unwrap();
        assert_eq!(a.get_ids(), b.get_ids(), "{line}");
    }
    println!("{} lines encoded identically", lines.len());
}
