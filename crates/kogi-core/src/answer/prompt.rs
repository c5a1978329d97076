//! Prompts in Japanese and English: numbered passages, the question, the rules (answer only from
//! the passages, cite them as [n], say when the lecture does not cover the question). Passages are
//! trimmed to fit the model's window — never the question — and the caller is told.

use crate::generate::{Chat, Generator, Message};
use crate::retrieval::Passage;
use crate::Result;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    /// Japanese when the question has any kana or kanji.
    pub fn detect(question: &str) -> Lang {
        if question.chars().any(|c| matches!(c, '\u{3040}'..='\u{30ff}' | '\u{4e00}'..='\u{9fff}')) {
            Lang::Ja
        } else {
            Lang::En
        }
    }

    /// What the answer says when the passages do not hold the answer.
    pub fn not_covered(self) -> &'static str {
        match self {
            Lang::Ja => "講義ではこの質問は扱われていません。",
            Lang::En => "The lecture does not cover this question.",
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ja" => Ok(Lang::Ja),
            "en" => Ok(Lang::En),
            _ => Err(crate::Error::Invalid(format!("unknown language {s:?} — use ja or en"))),
        }
    }
}

/// Phrases by which an answer declines (ours, and what small models tend to write).
pub fn is_refusal(answer: &str) -> bool {
    let a = answer.to_lowercase();
    [
        "扱われていません",
        "講義では触れられていません",
        "述べられていません",
        "書かれていません",
        "does not cover",
        "doesn't cover",
        "not covered",
        "not mentioned",
        "no information",
        "does not mention",
        "cannot find",
    ]
    .iter()
    .any(|p| a.contains(p))
}

fn system(lang: Lang, with_passages: bool) -> String {
    match (lang, with_passages) {
        (Lang::Ja, true) => format!(
            "あなたは大学の講義について質問に答えるアシスタントです。下の番号付きの講義の抜粋だけを根拠に、日本語で簡潔に答えてください。\
             できるだけ抜粋の言葉をそのまま使い、根拠にした抜粋の番号を [1] のように示してください。\
             抜粋に答えがない場合は、推測せずに「{}」とだけ答えてください。",
            Lang::Ja.not_covered()
        ),
        (Lang::En, true) => format!(
            "You answer questions about a lecture using only the numbered excerpts below. Quote the excerpts word for word \
             where you can, and cite the excerpts you use like [1]. If the excerpts do not contain the answer, reply exactly: {}",
            Lang::En.not_covered()
        ),
        (Lang::Ja, false) => "質問に日本語で簡潔に答えてください。".into(),
        (Lang::En, false) => "Answer the question briefly.".into(),
    }
}

fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Break special-token spellings (`<|im_end|>`, `<|eot_id|>` …) that a transcript might contain, so
/// lecture text can never end the model's turn or start a new one.
fn defuse(text: &str) -> String {
    text.replace("<|", "<\u{200b}|").replace("|>", "|\u{200b}>").replace("<s>", "<\u{200b}s>").replace("</s>", "<\u{200b}/s>")
}

fn passage_line(i: usize, p: &Passage, text: &str, lang: Lang, metadata: bool) -> String {
    let mut head = format!("[{}]", i + 1);
    if metadata {
        let mut meta = vec![p.title.clone()];
        if let Some(c) = &p.course {
            meta.push(c.clone());
        }
        if let (Some(a), Some(b)) = (p.start_ms, p.end_ms) {
            meta.push(format!("{}–{}", clock(a), clock(b)));
        }
        head = match lang {
            Lang::Ja => format!("{head}（{}）", meta.join("、")),
            Lang::En => format!("{head} ({})", meta.join(", ")),
        };
    }
    format!("{head} {}\n", defuse(text.trim()))
}

/// A built prompt, with what had to be left out.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub chat: Chat,
    /// Tokens the prompt takes.
    pub tokens: usize,
    /// Passages actually in the prompt (a prefix of those given; the last may be shortened).
    pub passages_used: usize,
    /// Passages dropped or shortened to fit.
    pub trimmed: usize,
}

fn messages(question: &str, passages: &[(Passage, String)], lang: Lang, metadata: bool) -> Vec<Message> {
    if passages.is_empty() {
        return vec![Message::system(system(lang, false)), Message::user(defuse(question))];
    }
    let body: String = passages.iter().enumerate().map(|(i, (p, t))| passage_line(i, p, t, lang, metadata)).collect();
    let user = match lang {
        Lang::Ja => format!("講義の抜粋:\n{body}\n質問: {}", defuse(question)),
        Lang::En => format!("Lecture excerpts:\n{body}\nQuestion: {}", defuse(question)),
    };
    vec![Message::system(system(lang, true)), Message::user(user)]
}

/// Build the prompt within `max_tokens`: drop the lowest-ranked passages first, then shorten the
/// last one kept; the question always stays whole. `passages` is best first.
pub fn build(
    lm: &dyn Generator,
    question: &str,
    passages: &[Passage],
    lang: Lang,
    metadata: bool,
    max_tokens: usize,
) -> Result<Prompt> {
    let mut kept: Vec<(Passage, String)> = passages.iter().map(|p| (p.clone(), p.text.clone())).collect();
    let mut trimmed = 0;
    loop {
        let chat = Chat::new(messages(question, &kept, lang, metadata));
        let tokens = lm.count_chat_tokens(&chat)?;
        if tokens <= max_tokens || kept.is_empty() {
            if tokens > max_tokens {
                return Err(crate::Error::Invalid(format!(
                    "the question alone needs {tokens} tokens, more than the {max_tokens} the model can take — ask a shorter question"
                )));
            }
            return Ok(Prompt { passages_used: kept.len(), chat, tokens, trimmed });
        }
        let over = tokens - max_tokens;
        let only_one = kept.len() == 1;
        let last = kept.last_mut().expect("non-empty");
        let chars = last.1.chars().count();
        // Shorten the last passage when a cut can save enough and leaves something; else drop it.
        let cut_chars = over * 2 + 8;
        if only_one && chars > cut_chars + 20 {
            last.1 = last.1.chars().take(chars - cut_chars).collect::<String>() + "…";
            if trimmed == 0 {
                trimmed = 1;
            }
        } else {
            kept.pop();
            trimmed += 1;
        }
    }
}
