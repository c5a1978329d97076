//! Semantic chunks: consecutive sentences stay together while their embeddings stay similar.

use crate::inference::{Embed, Role};
use crate::text::{CharIndex, CharSpan};
use crate::{Error, Result};

/// Sentences per `Embed::embed` call.
pub const EMBED_BATCH: usize = 64;

/// Group `sentences` (each at most `max_chars`, validated by the caller along with
/// `min_chars <= max_chars` and a finite `threshold`):
/// 1. embed every sentence (`Role::Passage`, [`EMBED_BATCH`] per call) and take the cosine of each
///    pair of neighbours;
/// 2. break where it drops below `threshold`, or (when `None`) below mean − 1 std of those cosines,
///    and wherever the group would grow past `max_chars`;
/// 3. merge every group shorter than `min_chars` (smallest first) into the neighbour it fits with
///    (merged length ≤ `max_chars`), the more similar one first. The minimum wins over the maximum: when
///    neither neighbour fits, the small group still joins the one giving the shorter result.
pub(crate) fn semantic_spans(
    ix: &CharIndex<'_>,
    sentences: &[CharSpan],
    embedder: &dyn Embed,
    max_chars: usize,
    min_chars: usize,
    threshold: Option<f32>,
) -> Result<Vec<CharSpan>> {
    if sentences.len() <= 1 {
        return Ok(sentences.to_vec());
    }
    let vectors = embed_all(ix, sentences, embedder)?;
    let sims: Vec<f32> = vectors.windows(2).map(|w| cosine(&w[0], &w[1])).collect();
    let threshold = threshold.unwrap_or_else(|| auto_threshold(&sims));

    // groups of sentence indices, inclusive
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut first = 0;
    for i in 0..sentences.len() - 1 {
        let too_long = sentences[i + 1].end - sentences[first].start > max_chars;
        if sims[i] < threshold || too_long {
            groups.push((first, i));
            first = i + 1;
        }
    }
    groups.push((first, sentences.len() - 1));

    let len = |g: (usize, usize)| sentences[g.1].end - sentences[g.0].start;
    while groups.len() > 1 {
        let Some(at) = (0..groups.len())
            .filter(|&g| len(groups[g]) < min_chars)
            .min_by_key(|&g| (len(groups[g]), g))
        else {
            break;
        };
        let g = groups[at];
        // (neighbour index, merged length, similarity across the boundary)
        let mut options = Vec::with_capacity(2);
        if at > 0 {
            options.push((at - 1, len((groups[at - 1].0, g.1)), sims[g.0 - 1]));
        }
        if at + 1 < groups.len() {
            options.push((at + 1, len((g.0, groups[at + 1].1)), sims[g.1]));
        }
        let (with, _, _) = options
            .into_iter()
            .min_by(|a, b| {
                (a.1 > max_chars)
                    .cmp(&(b.1 > max_chars))
                    .then_with(|| b.2.total_cmp(&a.2))
                    .then_with(|| a.1.cmp(&b.1))
                    .then_with(|| a.0.cmp(&b.0))
            })
            .expect("a group among several has a neighbour");
        let (lo, hi) = (at.min(with), at.max(with));
        groups[lo] = (groups[lo].0, groups[hi].1);
        groups.remove(hi);
    }
    Ok(groups
        .into_iter()
        .map(|(a, b)| CharSpan::new(sentences[a].start, sentences[b].end))
        .collect())
}

/// Embeddings of every sentence, in batches of [`EMBED_BATCH`].
fn embed_all(
    ix: &CharIndex<'_>,
    sentences: &[CharSpan],
    embedder: &dyn Embed,
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(sentences.len());
    for batch in sentences.chunks(EMBED_BATCH) {
        let texts: Vec<&str> = batch.iter().map(|&s| ix.slice(s)).collect();
        let vectors = embedder.embed(&texts, Role::Passage)?;
        if vectors.len() != texts.len() {
            return Err(Error::Model {
                model: embedder.model_id().to_string(),
                message: format!(
                    "returned {} vectors for {} sentences",
                    vectors.len(),
                    texts.len()
                ),
            });
        }
        out.extend(vectors);
    }
    Ok(out)
}

/// Cosine similarity (0 when either vector is zero).
fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// Mean − 1 (population) standard deviation of the neighbour similarities.
fn auto_threshold(sims: &[f32]) -> f32 {
    let n = sims.len() as f64;
    let mean = sims.iter().map(|&s| f64::from(s)).sum::<f64>() / n;
    let var = sims
        .iter()
        .map(|&s| (f64::from(s) - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean - var.sqrt()) as f32
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::chunk::{Strategy, chunk};
    use crate::text::slice_chars;
    use std::sync::Mutex;

    /// One dimension per topic keyword (cat / dog / rain), plus one for "none of them".
    pub(crate) struct TopicEmbed {
        pub calls: Mutex<Vec<usize>>,
    }
    impl TopicEmbed {
        pub(crate) fn new() -> Self {
            Self {
                calls: Mutex::new(Vec::new()),
            }
        }
    }
    impl Embed for TopicEmbed {
        fn model_id(&self) -> &str {
            "fake-topics"
        }
        fn dimensions(&self) -> usize {
            4
        }
        fn embed(&self, texts: &[&str], role: Role) -> Result<Vec<Vec<f32>>> {
            assert_eq!(role, Role::Passage);
            self.calls.lock().unwrap().push(texts.len());
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = [0.0f32; 4];
                    for (d, keys) in [["猫", "cat"], ["犬", "dog"], ["雨", "rain"]]
                        .iter()
                        .enumerate()
                    {
                        v[d] = keys.iter().map(|k| t.matches(k).count() as f32).sum();
                    }
                    if v.iter().all(|&x| x == 0.0) {
                        v[3] = 1.0;
                    }
                    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                    v.iter().map(|x| x / n).collect()
                })
                .collect())
        }
    }

    const TEXT: &str =
        "猫はかわいい。猫が好きです。猫と遊ぶ。犬は忠実です。犬と散歩する。犬が吠える。";

    fn texts(text: &str, strategy: &Strategy) -> Vec<String> {
        let e = TopicEmbed::new();
        chunk(text, strategy, None, Some(&e))
            .unwrap()
            .into_iter()
            .map(|c| slice_chars(text, c.matched).to_string())
            .collect()
    }

    #[test]
    fn semantic_breaks_between_topics_with_auto_threshold() {
        let s = Strategy::Semantic {
            max_chars: 200,
            min_chars: 1,
            threshold: None,
        };
        assert_eq!(
            texts(TEXT, &s),
            [
                "猫はかわいい。猫が好きです。猫と遊ぶ。",
                "犬は忠実です。犬と散歩する。犬が吠える。"
            ]
        );
    }

    #[test]
    fn semantic_breaks_below_an_explicit_threshold() {
        let s = Strategy::Semantic {
            max_chars: 200,
            min_chars: 1,
            threshold: Some(0.5),
        };
        let text = "猫はかわいい。猫が好きです。雨が降る。雨の日。犬と散歩する。";
        assert_eq!(
            texts(text, &s),
            [
                "猫はかわいい。猫が好きです。",
                "雨が降る。雨の日。",
                "犬と散歩する。"
            ]
        );
    }

    #[test]
    fn semantic_forces_a_break_past_max_chars() {
        let s = Strategy::Semantic {
            max_chars: 14,
            min_chars: 1,
            threshold: None,
        };
        let t = texts(TEXT, &s);
        assert_eq!(
            t,
            [
                "猫はかわいい。猫が好きです。",
                "猫と遊ぶ。",
                "犬は忠実です。犬と散歩する。",
                "犬が吠える。"
            ]
        );
    }

    #[test]
    fn semantic_merges_chunks_below_min_chars_into_the_more_similar_neighbour() {
        // "猫猫犬。" stands alone between the dog and the cat chunks; it is closer to the cats.
        let s = Strategy::Semantic {
            max_chars: 200,
            min_chars: 7,
            threshold: Some(0.95),
        };
        let text = "犬は忠実です。犬と散歩する。猫猫犬。猫はかわいい。猫が好きです。";
        assert_eq!(
            texts(text, &s),
            [
                "犬は忠実です。犬と散歩する。",
                "猫猫犬。猫はかわいい。猫が好きです。"
            ]
        );
        // a neighbour it fits with (≤ max_chars) is preferred over a more similar one
        let s = Strategy::Semantic {
            max_chars: 18,
            min_chars: 7,
            threshold: Some(0.95),
        };
        let text = "犬は忠実です。犬と散歩する。猫猫犬。猫はかわいい。猫がとても好き。";
        assert_eq!(
            texts(text, &s),
            [
                "犬は忠実です。犬と散歩する。猫猫犬。",
                "猫はかわいい。猫がとても好き。"
            ]
        );
    }

    #[test]
    fn min_chars_wins_over_max_chars_and_short_texts_stay_whole() {
        let s = Strategy::Semantic {
            max_chars: 14,
            min_chars: 7,
            threshold: None,
        };
        assert_eq!(
            texts("猫はかわいい。猫が好きです。雨。", &s),
            ["猫はかわいい。猫が好きです。雨。"]
        );
        let s = Strategy::Semantic {
            max_chars: 200,
            min_chars: 50,
            threshold: None,
        };
        assert_eq!(texts("猫。犬。", &s), ["猫。犬。"]);
    }

    #[test]
    fn semantic_embeds_in_batches_of_64() {
        let text = "猫。".repeat(150);
        let e = TopicEmbed::new();
        let s = Strategy::Semantic {
            max_chars: 1000,
            min_chars: 1,
            threshold: None,
        };
        let chunks = chunk(&text, &s, None, Some(&e)).unwrap();
        assert_eq!(*e.calls.lock().unwrap(), [64, 64, 22]);
        assert_eq!(chunks.len(), 1);
    }

    #[test]
    fn semantic_without_embedder_is_invalid() {
        let s = Strategy::Semantic {
            max_chars: 200,
            min_chars: 1,
            threshold: None,
        };
        let err = chunk(TEXT, &s, None, None).unwrap_err();
        assert!(
            matches!(&err, Error::Invalid(m) if m.contains("embedding model")),
            "{err}"
        );
    }

    #[test]
    fn wrong_number_of_vectors_is_a_model_error() {
        struct Broken;
        impl Embed for Broken {
            fn model_id(&self) -> &str {
                "broken"
            }
            fn dimensions(&self) -> usize {
                1
            }
            fn embed(&self, _: &[&str], _: Role) -> Result<Vec<Vec<f32>>> {
                Ok(vec![vec![1.0]])
            }
        }
        let s = Strategy::Semantic {
            max_chars: 200,
            min_chars: 1,
            threshold: None,
        };
        assert!(matches!(
            chunk(TEXT, &s, None, Some(&Broken)),
            Err(Error::Model { .. })
        ));
    }
}
