//! SentencePiece vocabularies in GGUF files (`tokenizer.ggml.model = "llama"`, as Llama 2, Mistral,
//! llm-jp and ELYZA files carry), trained on the real lecture by the `sentencepiece` package and
//! written as tiny llama GGUFs by models/tools/spm_tokenizer.py: the tokenizer kogi rebuilds from
//! each encodes text to the same ids as llama.cpp (llama-cpp-python, set up by
//! scripts/setup-reference.sh) on the same file, and decodes them back; imported, its chat prompts
//! are llama.cpp's ids too.

mod support;

use kogi_core::generate::Message;
use kogi_core::generate::chat::ChatTokenizer;
use kogi_core::model::convert::{ConvertRequest, Target, convert, open_source};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

fn spm_tool(args: &[&str]) -> serde_json::Value {
    support::reference_tool("spm_tokenizer.py", args)
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

fn rebuilt(gguf: &Path) -> tokenizers::Tokenizer {
    open_source(gguf).unwrap().tokenizer().unwrap().tokenizer_json.parse().unwrap()
}

/// Lecture sentences, English lines, and lines for the edges: spaces at the start, double and
/// trailing spaces, digits, characters outside the vocabulary (byte fallback), the user-defined
/// token ("GPT") and control-token text.
fn lecture_lines() -> Vec<String> {
    let lecture = std::fs::read_to_string(support::repo().join("../shared/data/LLM2024_day4.txt")).expect("the lecture data beside the checkout");
    let mut lines: Vec<String> = lecture.split(['。', '\n']).map(str::trim).filter(|l| l.chars().count() > 5).take(220).map(str::to_owned).collect();
    lines.extend(std::fs::read_to_string(support::repo().join("README.md")).unwrap().lines().filter(|l| l.len() > 40).take(25).map(str::to_owned));
    lines.extend(
        [
            " 先頭に空白がひとつあるスケール則の話",
            "   先頭に空白が三つ",
            "二つの空白  のあとに  また二つ、末尾にも空白 ",
            "2024年10月2日、第4回の講義：パラメータ数は7B（70億）で学習率は1.5e-3、FLOPsは6ND",
            "絵文字😀🎉と珍しい字𠮷鬱𩸽、記号Ω≈∑∮、“curly quotes” — and a dash",
            "GPT-4oとGPT-3.5の違い、そしてGPTという名前",
            "文の終わり</s>次の文<s>そのあと",
            "<0x41>という文字列と<unk>という文字列",
            "[PAD4010] is text, not a token",
            "ａｂｃ全角英字とﾊﾝｶｸｶﾀｶﾅ",
            "Scaling laws: L(N) = (N_c / N)^α_N, with α_N ≈ 0.076 and N_c ≈ 8.8 × 10^13",
        ]
        .map(str::to_owned),
    );
    lines
}

/// Vocabulary pieces cut at a random place, the halves swapped, strung together: merges meet in
/// orders and neighbourhoods the lecture does not show. Deterministic.
fn scrambled_lines(tok: &tokenizers::Tokenizer, n: usize) -> Vec<String> {
    let pieces: Vec<Vec<char>> = (0..tok.get_vocab_size(true) as u32)
        .filter_map(|i| tok.id_to_token(i))
        .filter(|t| !t.starts_with('<') && !t.starts_with("[PAD"))
        .map(|t| t.replace('▁', " ").chars().collect())
        .collect();
    let mut s = 12345u64;
    let mut next = |n: usize| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 33) as usize) % n
    };
    (0..n)
        .map(|_| {
            let mut line = String::new();
            for _ in 0..2 + next(12) {
                let p = &pieces[next(pieces.len())];
                let cut = next(p.len() + 1);
                line.extend(&p[cut..]);
                line.extend(&p[..cut]);
            }
            line
        })
        .collect()
}

/// Encodes every line with kogi's tokenizer rebuilt from `gguf` and with llama.cpp; prints the
/// counts and the first differences; returns whether all agree.
fn agrees_with_llama_cpp(name: &str, gguf: &Path, spm: Option<&Path>, file: &Path, lines: &[String], lecture: usize) -> bool {
    let tok = rebuilt(gguf);
    let mut args = vec!["tokenize", "--gguf", gguf.to_str().unwrap(), "--text-file", file.to_str().unwrap()];
    args.extend(spm.map(|s| ["--spm", s.to_str().unwrap()]).into_iter().flatten());
    let theirs = spm_tool(&args);
    let theirs = theirs["lines"].as_array().unwrap();
    assert_eq!(theirs.len(), lines.len());
    let added = ["GPT", "<s>", "</s>", "<unk>"];
    let (mut same_lecture, mut same_scrambled, mut plain, mut back, mut as_llama_cpp, mut spm_same) = (0, 0, 0, 0, 0, 0);
    let mut differences = Vec::new();
    for (k, (line, t)) in lines.iter().zip(theirs).enumerate() {
        assert_eq!(t["text"].as_str().unwrap(), line);
        let want = ids(&t["ids"]);
        let mine = tok.encode(line.as_str(), false).unwrap().get_ids().to_vec();
        if mine == want {
            *(if k < lecture { &mut same_lecture } else { &mut same_scrambled }) += 1;
        } else {
            let show = |v: &[u32]| v.iter().map(|&i| format!("{i}:{}", tok.id_to_token(i).unwrap_or_default())).collect::<Vec<_>>().join(" ");
            differences.push(format!("{line:?}\n  kogi      {}\n  llama.cpp {}", show(&mine), show(&want)));
        }
        spm_same += usize::from(!t["spm_ids"].is_null() && ids(&t["spm_ids"]) == want);
        let text = tok.decode(&mine, true).unwrap();
        if text == t["text_from_ids"].as_str().unwrap() {
            as_llama_cpp += 1;
        } else {
            differences.push(format!("{line:?} decodes to {text:?}, llama.cpp's ids to {:?}", t["text_from_ids"]));
        }
        // An added token ends a text fragment and the next one gets its own "▁" (in both engines),
        // so only lines without added-token text decode to themselves.
        if !added.iter().any(|a| line.contains(a)) {
            plain += 1;
            if text == *line {
                back += 1;
            } else {
                differences.push(format!("{line:?} decodes to {text:?}"));
            }
        }
    }
    let spm_note = match spm {
        Some(_) => format!("sentencepiece's own ids agree with llama.cpp's on {spm_same}"),
        None => "no sentencepiece ids to compare (its .model has other ids or adds the prefix)".to_owned(),
    };
    println!(
        "{name}: llama.cpp's ids for {same_lecture} of {lecture} lecture/README/edge lines and {same_scrambled} of {} scrambled-piece lines; \
         {back} of {plain} lines without added-token text decode back to themselves, {as_llama_cpp} of {} decode as llama.cpp detokenises; {spm_note}",
        lines.len() - lecture,
        lines.len()
    );
    for d in differences.iter().take(20) {
        println!("{d}");
    }
    differences.is_empty()
}

#[test]
fn a_sentencepiece_gguf_tokenizer_encodes_as_llama_cpp_does() {
    let tmp = tempfile::tempdir().unwrap();
    let made = spm_tool(&["make", "--out", tmp.path().to_str().unwrap()]);
    let gguf = PathBuf::from(made["spm-llama"]["gguf"].as_str().unwrap());
    let mut lines = lecture_lines();
    let lecture = lines.len();
    assert!(lecture >= 200 + 25, "{lecture} lines");
    lines.extend(scrambled_lines(&rebuilt(&gguf), 1000));
    let file = tmp.path().join("lines.txt");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    // Llama 2's kind of vocabulary, the same without the space prefix, a unigram one (many equal
    // scores), and the first with its ids shuffled (merges must follow scores, not ids).
    let differ: Vec<&str> = ["spm-llama", "spm-llama-no-prefix", "spm-llama-unigram", "spm-llama-shuffled"]
        .into_iter()
        .filter(|name| {
            let m = &made[*name];
            !agrees_with_llama_cpp(name, Path::new(m["gguf"].as_str().unwrap()), m["spm"].as_str().map(Path::new), &file, &lines, lecture)
        })
        .collect();
    assert!(differ.is_empty(), "kogi and llama.cpp differ for {differ:?} (printed above)");

    // BOS added as llama.cpp adds it (tokenizer.ggml.add_bos_token); `</s>` ends a turn.
    let files = open_source(&gguf).unwrap().tokenizer().unwrap();
    assert_eq!((files.bos_token_id, files.bos_token.as_deref(), files.eos_token.as_deref()), (Some(1), Some("<s>"), Some("</s>")));
    assert_eq!(files.eos_token_ids, [2]);
    assert_eq!(files.end_of_turn.as_deref(), Some("</s>"));
    let tok = rebuilt(&gguf);
    let with_bos = tok.encode(lines[0].as_str(), true).unwrap().get_ids().to_vec();
    assert_eq!((with_bos[0], &with_bos[1..]), (1, tok.encode(lines[0].as_str(), false).unwrap().get_ids()));
}

#[test]
fn an_imported_sentencepiece_model_encodes_its_chat_prompt_as_llama_cpp_does() {
    let tmp = tempfile::tempdir().unwrap();
    let made = spm_tool(&["make", "--out", tmp.path().to_str().unwrap()]);
    let gguf = made["spm-llama"]["gguf"].as_str().unwrap();
    let models = tmp.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let req = ConvertRequest { source: gguf.into(), name: Some("spm".into()), target: Target::Cpu };
    let c = convert(&req, &models, &mut |_, _, _, _| {}, &AtomicBool::new(false)).unwrap();
    let chat = ChatTokenizer::from_dir(&c.dir).unwrap();
    // Llama 2's template writes <s> and </s> between turns; each special token starts a new text
    // fragment, and llama.cpp gives the text after it its own "▁".
    let messages = [
        Message::system("あなたは講義の内容に答える助手です。"),
        Message::user("スケール則とは何ですか？"),
        Message::assistant("モデルの性能が計算量・データ・パラメータ数のべき乗に従うという経験則です。"),
        Message::user("Chinchilla  の結論は? 😀"),
    ];
    let prompt = chat.render(&messages, true).unwrap();
    let file = tmp.path().join("prompt.txt");
    std::fs::write(&file, &prompt).unwrap();
    let theirs = spm_tool(&["tokenize", "--gguf", gguf, "--text-file", file.to_str().unwrap(), "--whole"]);
    let mine = chat.encode_chat(&messages).unwrap();
    assert_eq!(mine, ids(&theirs["lines"][0]["ids"]), "{prompt:?}");
    assert_eq!(mine.iter().filter(|&&i| i == 1).count(), 2, "a <s> per user turn, none added");
    assert_eq!(chat.end_of_turn_ids(), [2]);
    println!("the imported model's chat prompt ({} tokens) is llama.cpp's", mine.len());
}
