//! Cross-strategy tests: names, serde, errors, properties over random text, the real ASR transcript.

use super::Strategy;
use super::semantic::tests::TopicEmbed;
use super::tokens::tests::EveryN;
use super::*;
use crate::inference::Role;
use proptest::prelude::*;
use proptest::strategy::Strategy as _;

/// Tokens: runs of non-whitespace chars, cut every 3 chars (whitespace is never part of a token).
struct WordPieces;
impl TokenSpans for WordPieces {
    fn token_spans(&self, text: &str) -> Result<Vec<CharSpan>> {
        let chars: Vec<char> = text.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_whitespace() {
                i += 1;
                continue;
            }
            let mut j = i;
            while j < chars.len() && !chars[j].is_whitespace() && j - i < 3 {
                j += 1;
            }
            out.push(CharSpan::new(i, j));
            i = j;
        }
        Ok(out)
    }
}

/// Deterministic pseudo-embedding from the characters (a few dimensions, so neighbours differ).
struct HashEmbed;
impl Embed for HashEmbed {
    fn model_id(&self) -> &str {
        "fake-hash"
    }
    fn dimensions(&self) -> usize {
        3
    }
    fn embed(&self, texts: &[&str], role: Role) -> Result<Vec<Vec<f32>>> {
        assert_eq!(role, Role::Passage);
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = [1.0f32, 0.0, 0.0];
                for c in t.chars() {
                    v[(c as usize) % 3] += (c as u32 % 7) as f32;
                }
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter().map(|x| x / n).collect()
            })
            .collect())
    }
}

fn all_strategies() -> Vec<Strategy> {
    vec![
        Strategy::Sentences { max_chars: 200 },
        Strategy::Sentences { max_chars: 7 },
        Strategy::SentenceWindow {
            radius: 2,
            max_chars: 12,
        },
        Strategy::Paragraphs {
            max_chars: 30,
            window_chars: 20,
            overlap_chars: 8,
        },
        Strategy::Paragraphs {
            max_chars: 5,
            window_chars: 40,
            overlap_chars: 0,
        },
        Strategy::TokenWindows {
            size: 4,
            overlap: 1,
        },
        Strategy::TokenWindows {
            size: 1,
            overlap: 0,
        },
        Strategy::Semantic {
            max_chars: 40,
            min_chars: 10,
            threshold: None,
        },
        Strategy::Semantic {
            max_chars: 15,
            min_chars: 0,
            threshold: Some(0.9),
        },
    ]
}

fn run(text: &str, s: &Strategy) -> Vec<Chunk> {
    chunk(text, s, Some(&WordPieces), Some(&HashEmbed)).unwrap()
}

/// Every non-whitespace char lies in some chunk's `matched` span.
fn assert_covers(text: &str, spans: &[CharSpan], what: &str) {
    let chars: Vec<char> = text.chars().collect();
    let mut covered = vec![false; chars.len()];
    for s in spans {
        covered[s.start..s.end].iter_mut().for_each(|c| *c = true);
    }
    for (i, c) in chars.iter().enumerate() {
        assert!(
            c.is_whitespace() || covered[i],
            "{what}: char {i} {c:?} is in no chunk of {text:?}: {spans:?}"
        );
    }
}

fn fragment() -> impl proptest::strategy::Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "です", "スケール則", "けど", "ので", "から", "ですが", "言語モデル", "推論時", "の", "を", "猫", "犬",
            "Pretraining", "GPT-3.5", "scaling", "law", "the", "a", "42", "3.14", "é", "😀",
        ])
        .prop_map(String::from),
        3 => prop::sample::select(vec![
            "。", "、", "．", "！", "？", "!", "?", ".", "...", ",", "「", "」", "『", "』", "（", "）", "(", ")",
            "\"", "'", "。」",
        ])
        .prop_map(String::from),
        3 => prop::sample::select(vec![" ", "  ", "\u{3000}", "\t", "\n", "\r\n", "\n\n", "\n \n", "\n\u{3000}\n\n"])
            .prop_map(String::from),
        1 => any::<char>().prop_map(String::from),
    ]
}

fn text_strategy() -> impl proptest::strategy::Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..120).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn prop_spans_are_in_order_within_the_text_and_trimmed(text in text_strategy()) {
        let chars: Vec<char> = text.chars().collect();
        for s in all_strategies() {
            let chunks = run(&text, &s);
            for c in &chunks {
                prop_assert!(c.matched.start < c.matched.end && c.matched.end <= chars.len(), "{s:?} {c:?}");
                prop_assert!(c.context.start <= c.matched.start && c.matched.end <= c.context.end, "{s:?} {c:?}");
                prop_assert!(c.context.end <= chars.len());
                if !s.needs_tokens() {
                    prop_assert!(!chars[c.matched.start].is_whitespace() && !chars[c.matched.end - 1].is_whitespace());
                }
            }
            for w in chunks.windows(2) {
                prop_assert!(w[0].matched.start < w[1].matched.start, "{s:?} {:?}", w);
                prop_assert!(w[0].matched.end < w[1].matched.end, "{s:?} {:?}", w);
                prop_assert!(w[0].context.start <= w[1].context.start && w[0].context.end <= w[1].context.end);
            }
        }
    }

    #[test]
    fn prop_chunks_cover_all_content_and_overlap_only_as_windows_do(text in text_strategy()) {
        for s in all_strategies() {
            let chunks = run(&text, &s);
            let spans: Vec<CharSpan> = chunks.iter().map(|c| c.matched).collect();
            assert_covers(&text, &spans, &s.name());
            let windowed = match s {
                Strategy::TokenWindows { overlap, .. } => overlap > 0,
                Strategy::Paragraphs { .. } => {
                    super::paragraphs::paragraphs(&text.chars().collect::<Vec<_>>()).len() <= 1
                }
                _ => false,
            };
            for w in spans.windows(2) {
                if windowed {
                    // windows overlap their neighbour only, and by at most the overlap asked for
                    if let Strategy::Paragraphs { overlap_chars, .. } = s {
                        prop_assert!(w[0].end.saturating_sub(w[1].start) <= overlap_chars, "{s:?} {w:?}");
                    }
                } else {
                    prop_assert!(w[0].end <= w[1].start, "{s:?} overlaps: {w:?}");
                }
            }
            if !windowed && !matches!(s, Strategy::SentenceWindow { .. }) {
                prop_assert!(chunks.iter().all(|c| c.matched == c.context));
            }
        }
    }

    #[test]
    fn prop_length_limits_hold(text in text_strategy()) {
        for s in all_strategies() {
            let chunks = run(&text, &s);
            let limit = match s {
                Strategy::Sentences { max_chars } | Strategy::SentenceWindow { max_chars, .. } => Some(max_chars),
                Strategy::Paragraphs { max_chars, window_chars, .. } => {
                    if super::paragraphs::paragraphs(&text.chars().collect::<Vec<_>>()).len() <= 1 {
                        Some(window_chars)
                    } else {
                        Some(max_chars)
                    }
                }
                _ => None,
            };
            if let Some(limit) = limit {
                prop_assert!(chunks.iter().all(|c| c.matched.len() <= limit), "{s:?} {chunks:?}");
            }
            if let Strategy::Semantic { min_chars, .. } = s {
                // below min_chars only when it is the only chunk
                if chunks.len() > 1 {
                    prop_assert!(chunks.iter().all(|c| c.matched.len() >= min_chars), "{s:?} {chunks:?}");
                }
            }
        }
    }

    #[test]
    fn prop_chunking_is_deterministic(text in text_strategy()) {
        for s in all_strategies() {
            prop_assert_eq!(run(&text, &s), run(&text, &s));
        }
    }

    #[test]
    fn prop_sentence_windows_match_the_sentences(text in text_strategy(), radius in 0usize..4) {
        let s = sentences(&text, 12);
        let chunks = chunk(&text, &Strategy::SentenceWindow { radius, max_chars: 12 }, None, None).unwrap();
        prop_assert_eq!(chunks.len(), s.len());
        for (i, c) in chunks.iter().enumerate() {
            prop_assert_eq!(c.matched, s[i]);
            prop_assert_eq!(c.context.start, s[i.saturating_sub(radius)].start);
            prop_assert_eq!(c.context.end, s[(i + radius).min(s.len() - 1)].end);
        }
    }

    #[test]
    fn prop_token_windows_share_exactly_overlap_tokens(len in 0usize..100, size in 1usize..8, overlap in 0usize..8) {
        prop_assume!(overlap < size);
        let text = "x".repeat(len);
        let chunks = chunk(&text, &Strategy::TokenWindows { size, overlap }, Some(&EveryN(1)), None).unwrap();
        for (k, c) in chunks.iter().enumerate() {
            prop_assert_eq!(c.matched.start, k * (size - overlap));
            prop_assert_eq!(c.matched.end, (k * (size - overlap) + size).min(len));
        }
        prop_assert_eq!(chunks.last().map_or(0, |c| c.matched.end), len);
    }

    #[test]
    fn prop_strategy_names_parse_back(
        a in 0usize..5000, b in 0usize..5000, c in 0usize..5000, t in prop::option::of(-1.0f32..1.0)
    ) {
        for s in [
            Strategy::Sentences { max_chars: a },
            Strategy::SentenceWindow { radius: b, max_chars: a },
            Strategy::Paragraphs { max_chars: a, window_chars: b, overlap_chars: c },
            Strategy::TokenWindows { size: a, overlap: b },
            Strategy::Semantic { max_chars: a, min_chars: b, threshold: t },
        ] {
            prop_assert_eq!(s.name().parse::<Strategy>().unwrap(), s);
        }
    }
}

#[test]
fn strategy_names_are_stable() {
    assert_eq!(Strategy::default().name(), "sentences:m200");
    assert_eq!(
        Strategy::SentenceWindow {
            radius: 2,
            max_chars: 200
        }
        .name(),
        "sentence_window:r2:m200"
    );
    assert_eq!(
        Strategy::Paragraphs {
            max_chars: 800,
            window_chars: 600,
            overlap_chars: 100
        }
        .name(),
        "paragraphs:m800:w600:o100"
    );
    assert_eq!(
        Strategy::TokenWindows {
            size: 256,
            overlap: 32
        }
        .name(),
        "token_windows:s256:o32"
    );
    assert_eq!(
        Strategy::Semantic {
            max_chars: 400,
            min_chars: 100,
            threshold: None
        }
        .name(),
        "semantic:m400:n100:tauto"
    );
    assert_eq!(
        Strategy::Semantic {
            max_chars: 400,
            min_chars: 100,
            threshold: Some(0.55)
        }
        .to_string(),
        "semantic:m400:n100:t0.55"
    );
}

#[test]
fn malformed_strategy_names_are_invalid() {
    for bad in [
        "",
        "sentences",
        "sentences:200",
        "sentences:m",
        "sentences:mx",
        "sentence_window:m200:r2",
        "nope:m1",
        "semantic:m1:n1:tx",
    ] {
        assert!(
            matches!(bad.parse::<Strategy>(), Err(Error::Invalid(_))),
            "{bad}"
        );
    }
}

#[test]
fn strategy_serialises_with_a_kind_tag() {
    let s = Strategy::SentenceWindow {
        radius: 2,
        max_chars: 200,
    };
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(
        json,
        r#"{"kind":"sentence_window","radius":2,"max_chars":200}"#
    );
    assert_eq!(serde_json::from_str::<Strategy>(&json).unwrap(), s);
    let s: Strategy =
        serde_json::from_str(r#"{"kind":"semantic","max_chars":400,"min_chars":100}"#).unwrap();
    assert_eq!(
        s,
        Strategy::Semantic {
            max_chars: 400,
            min_chars: 100,
            threshold: None
        }
    );
}

#[test]
fn missing_tokenizer_or_embedder_is_invalid() {
    let err = chunk(
        "text",
        &Strategy::TokenWindows {
            size: 8,
            overlap: 2,
        },
        None,
        Some(&HashEmbed),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(m) if m.contains("tokenizer")),
        "{err}"
    );
    let s = Strategy::Semantic {
        max_chars: 200,
        min_chars: 10,
        threshold: None,
    };
    let err = chunk("text", &s, Some(&WordPieces), None).unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(m) if m.contains("embedding model")),
        "{err}"
    );
    // other strategies need neither
    assert_eq!(
        chunk("text", &Strategy::default(), None, None)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn invalid_parameters_are_rejected() {
    for s in [
        Strategy::Sentences { max_chars: 0 },
        Strategy::SentenceWindow {
            radius: 1,
            max_chars: 0,
        },
        Strategy::Paragraphs {
            max_chars: 100,
            window_chars: 50,
            overlap_chars: 50,
        },
        Strategy::Paragraphs {
            max_chars: 0,
            window_chars: 50,
            overlap_chars: 5,
        },
        Strategy::Semantic {
            max_chars: 10,
            min_chars: 11,
            threshold: None,
        },
        Strategy::Semantic {
            max_chars: 10,
            min_chars: 1,
            threshold: Some(f32::NAN),
        },
    ] {
        assert!(
            matches!(
                chunk("text", &s, Some(&WordPieces), Some(&HashEmbed)),
                Err(Error::Invalid(_))
            ),
            "{s:?}"
        );
    }
}

#[test]
fn semantic_chunks_of_topics_fake_embedder_cover_text() {
    let text = "猫はかわいい。猫が好きです。\n\n犬は忠実です。犬と散歩する。";
    let e = TopicEmbed::new();
    let s = Strategy::Semantic {
        max_chars: 200,
        min_chars: 1,
        threshold: None,
    };
    let chunks = chunk(text, &s, None, Some(&e)).unwrap();
    assert_eq!(chunks.len(), 2);
    assert_covers(
        text,
        &chunks.iter().map(|c| c.matched).collect::<Vec<_>>(),
        "semantic",
    );
}

/// The real raw ASR transcript (no paragraph breaks, sentences of over 1,000 chars without 。).
fn real_raw_text() -> Option<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/LLM2024_day4_raw.txt"
    );
    std::fs::read_to_string(path).ok()
}

#[test]
fn real_raw_asr_sentences_are_under_max_chars_and_cover_all_content() {
    let Some(text) = real_raw_text() else {
        eprintln!("skipped: LLM2024_day4_raw.txt not found");
        return;
    };
    let ix = CharIndex::new(&text);
    for max_chars in [200, 120] {
        let spans = sentences(&text, max_chars);
        assert!(spans.iter().all(|s| s.len() <= max_chars));
        assert!(spans.windows(2).all(|w| w[0].end <= w[1].start));
        assert_covers(&text, &spans, "real sentences");
        // cuts land on natural boundaries: pieces of a cut run end in 、 / a phrase / a script change
        // far more often than not; count hard cuts to keep an eye on it
        let hard = spans.iter().filter(|s| s.len() == max_chars).count();
        assert!(
            hard * 20 <= spans.len(),
            "{hard} of {} pieces look hard-cut",
            spans.len()
        );
        let ends_touten = spans
            .iter()
            .filter(|s| ix.slice(**s).ends_with('、'))
            .count();
        eprintln!(
            "max {max_chars}: {} sentences, {ends_touten} cut after 、, {hard} at exactly max_chars",
            spans.len()
        );
    }
    let s = Strategy::Paragraphs {
        max_chars: 800,
        window_chars: 600,
        overlap_chars: 100,
    };
    let chunks = chunk(&text, &s, None, None).unwrap();
    assert!(chunks.len() > 1 && chunks.iter().all(|c| c.matched.len() <= 800));
    assert_covers(
        &text,
        &chunks.iter().map(|c| c.matched).collect::<Vec<_>>(),
        "real paragraphs",
    );
}
