//! Reranking passages by relevance to a question: a language model asked "is this passage directly
//! relevant? yes/no" and scored by the probability of "yes" (constrained to those two answers, no
//! text generated), or a cross-encoder when one is installed.

use crate::generate::{Chat, Generator, Message};
use crate::inference::manifest::ModelDir;
use crate::inference::runtime::{ProviderReport, SessionConfig, open_session};
use crate::retrieval::Passage;
use crate::{Error, Result};
use ort::session::Session;
use ort::value::Tensor;
use tokenizers::Tokenizer;

/// Scores passages for a question, higher = more relevant, in [0, 1].
pub trait Rerank {
    fn relevance(&mut self, question: &str, passages: &[Passage]) -> Result<Vec<f32>>;
}


/// The seed notebook's reranker: P(yes) / (P(yes) + P(no)) as the model's next token.
pub struct LlmJudge<'a> {
    pub lm: &'a mut dyn Generator,
    /// Characters of each passage shown to the judge.
    pub max_passage_chars: usize,
}

impl<'a> LlmJudge<'a> {
    pub fn new(lm: &'a mut dyn Generator) -> Self {
        Self { lm, max_passage_chars: 600 }
    }

    /// Probability of "yes" for each yes/no question (already phrased as chats), constrained to the
    /// tokens spelling yes and no.
    pub fn yes_probability(&mut self, chats: &[Chat]) -> Result<Vec<f32>> {
        let lps = self.lm.next_word_logprobs(chats, &["yes", "no"])?;
        Ok(lps
            .iter()
            .map(|lp| {
                let (y, n) = (lp[0], lp[1]);
                if !y.is_finite() && !n.is_finite() { 0.5 } else { 1.0 / (1.0 + (n - y).exp()) }
            })
            .collect())
    }
}

impl Rerank for LlmJudge<'_> {
    fn relevance(&mut self, question: &str, passages: &[Passage]) -> Result<Vec<f32>> {
        let chats: Vec<Chat> = passages
            .iter()
            .map(|p| {
                let text: String = p.text.chars().take(self.max_passage_chars).collect();
                Chat::new(vec![
                    Message::system("Answer with yes or no."),
                    Message::user(format!(
                        "Question: {question}\nPassage: {}\nIs this passage directly relevant to the question? Answer yes or no.",
                        text.replace("<|", "<\u{200b}|")
                    )),
                ])
            })
            .collect();
        self.yes_probability(&chats)
    }
}

/// A cross-encoder (question, passage) → relevance, as ONNX with `input_ids`, `attention_mask` and
/// optionally `token_type_ids`; output logits `[batch, 1]` (sigmoid) or `[batch, 2]` (softmax, class 1).
pub struct CrossEncoder {
    session: Session,
    tokenizer: Tokenizer,
    pub provider: ProviderReport,
    token_types: bool,
    max_length: usize,
}

impl CrossEncoder {
    pub fn open(model: &ModelDir, config: &SessionConfig) -> Result<Self> {
        let tpath = model.file("tokenizer")?;
        let mut tokenizer = Tokenizer::from_file(&tpath).map_err(|e| Error::Model {
            model: model.manifest.name.clone(),
            message: format!("{} cannot be read: {e}", tpath.display()),
        })?;
        tokenizer.with_padding(None);
        let (session, provider) = open_session(&model.file("model")?, config)?;
        let token_types = session.inputs().iter().any(|i| i.name() == "token_type_ids");
        Ok(Self { session, tokenizer, provider, token_types, max_length: model.manifest.max_length })
    }
}

impl Rerank for CrossEncoder {
    fn relevance(&mut self, question: &str, passages: &[Passage]) -> Result<Vec<f32>> {
        let rt = |e: ort::Error| Error::Runtime(e.to_string());
        let mut out = Vec::with_capacity(passages.len());
        for p in passages {
            let enc = self
                .tokenizer
                .encode((question, p.text.as_str()), true)
                .map_err(|e| Error::Runtime(e.to_string()))?;
            let n = enc.get_ids().len().min(self.max_length);
            let ids: Vec<i64> = enc.get_ids()[..n].iter().map(|&x| x as i64).collect();
            let types: Vec<i64> = enc.get_type_ids()[..n].iter().map(|&x| x as i64).collect();
            let shape = [1i64, n as i64];
            let mut inputs = ort::inputs![
                "input_ids" => Tensor::from_array((shape, ids)).map_err(rt)?,
                "attention_mask" => Tensor::from_array((shape, vec![1i64; n])).map_err(rt)?,
            ];
            if self.token_types {
                inputs.push(("token_type_ids".into(), Tensor::from_array((shape, types)).map_err(rt)?.into()));
            }
            let outputs = self.session.run(inputs).map_err(rt)?;
            let (_, logits) = outputs[0].try_extract_tensor::<f32>().map_err(rt)?;
            out.push(match logits {
                [x] => 1.0 / (1.0 + (-x).exp()),
                [a, b, ..] => 1.0 / (1.0 + (a - b).exp()),
                [] => 0.0,
            });
        }
        Ok(out)
    }
}
