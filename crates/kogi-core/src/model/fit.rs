//! Whether a chat model can read the lecture's language, from evidence kogi can measure: how many
//! tokens its tokenizer spends per Japanese character. Tokenizers trained on Japanese spend about
//! 0.5–1 (Llama 3: 0.68); English-centred ones fall back to bytes and spend more (SmolLM2: 1.73), and the models behind
//! them do not understand the text. The manifest's `languages` (which the person can correct) has
//! the last word; the measurement fills it when a model is imported and is shown beside it.

use crate::inference::manifest::ModelDir;
use crate::{Error, Result};
use serde::Serialize;
use std::path::Path;

/// A paragraph in the register of a lecture transcript (kogi's own text).
pub const JAPANESE_SAMPLE: &str = "今日は大規模言語モデルの推論について話します。モデルの性能は、学習に使う計算資源と\
データの量とパラメータ数によって決まるという経験則が知られています。これをスケール則と呼びます。最近では、学習の時だけではなく、\
推論時に計算量を増やすことで、難しい問題に対する精度が上がることも分かってきました。例えば、答えを出す前に考える時間を長くしたり、\
複数の答えを生成して多数決を取ったりする方法があります。次回は、強化学習を使ってこのような振る舞いを身につけさせる研究を紹介します。";

/// Above this many tokens per Japanese character a tokenizer is taken not to know Japanese.
pub const MAX_TOKENS_PER_CHAR: f32 = 1.2;

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct LanguageFit {
    /// Tokens the model's tokenizer spends per character of [`JAPANESE_SAMPLE`].
    pub tokens_per_ja_char: Option<f32>,
    /// What the manifest says the model reads (the person may correct it).
    pub languages: Vec<String>,
    /// The verdict: the manifest's `languages` when it names any, else the measurement.
    pub reads_japanese: bool,
}

/// Tokens per character of [`JAPANESE_SAMPLE`] under the tokenizer in `tokenizer_json`.
pub fn tokens_per_japanese_char(tokenizer_json: &Path) -> Result<f32> {
    let tok = tokenizers::Tokenizer::from_file(tokenizer_json)
        .map_err(|e| Error::Model { model: tokenizer_json.display().to_string(), message: format!("cannot read the tokenizer: {e}") })?;
    let enc = tok
        .encode(JAPANESE_SAMPLE, false)
        .map_err(|e| Error::Model { model: tokenizer_json.display().to_string(), message: format!("cannot tokenize: {e}") })?;
    Ok(enc.get_ids().len() as f32 / JAPANESE_SAMPLE.chars().count() as f32)
}

/// Whether `languages` (from a manifest) was decided by measurement: Japanese when the tokenizer
/// is frugal with it.
pub fn languages_from_measurement(tokens_per_char: f32) -> Vec<String> {
    if tokens_per_char <= MAX_TOKENS_PER_CHAR { vec!["ja".into(), "en".into()] } else { vec!["en".into()] }
}

/// The fit of a chat model folder.
pub fn language_fit(model: &ModelDir) -> LanguageFit {
    let measured = model.file("tokenizer").ok().and_then(|p| tokens_per_japanese_char(&p).ok());
    let languages = model.manifest.languages.clone();
    let reads_japanese = if languages.is_empty() {
        measured.is_some_and(|t| t <= MAX_TOKENS_PER_CHAR)
    } else {
        languages.iter().any(|l| l == "ja")
    };
    LanguageFit { tokens_per_ja_char: measured, languages, reads_japanese }
}
