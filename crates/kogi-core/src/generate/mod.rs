//! Text generation. [`Generator`] is what the rest of kogi asks of a language model (answers, the
//! yes/no reranker, "think harder", the suspicious-passage scan, evaluations); the ONNX engine
//! ([`onnx::LanguageModel`]) is one implementation, and a server ([`crate::server::ServerModel`]) is another.
//!
//! The parts: [`chat`] formats chats (tokenizer, chat template, streaming detokeniser);
//! [`params`] is what a generation is asked for and gives back; [`sampling`] picks tokens from
//! logits; [`speculative`] drafts tokens from n-grams ([`speculative::proposer`]) and checks drafts
//! against the model's picks ([`speculative::verifier`]); [`onnx`] is the engine on ONNX Runtime
//! (decoder and KV cache, GPU decode steps, graph editing, the generation loop, batches, scoring).

pub mod chat;
pub mod onnx;
pub mod params;
pub mod sampling;
#[cfg(test)]
pub mod scripted;
pub mod speculative;

use crate::inference::runtime::ProviderReport;
use crate::text::CharSpan;
use crate::Result;
pub use chat::Message;
pub use onnx::LanguageModel;
pub use params::{FinishReason, GenerateParams, Generation, GenerationStats};
use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicBool;

/// A chat to continue: the messages, and text the reply is made to begin with (it counts as part
/// of the reply, e.g. "[" so that an answer first names the excerpt it rests on).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chat {
    pub messages: Vec<Message>,
    pub reply_prefix: String,
}

impl Chat {
    pub fn new(messages: Vec<Message>) -> Self {
        Self { messages, reply_prefix: String::new() }
    }
}

/// How a long text is read for token scores: windows of `tokens`, one every `stride` tokens, so
/// that every token after the first window sees at least `tokens - stride` tokens of context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenWindows {
    pub tokens: usize,
    pub stride: usize,
}

/// One token of a scored text: the code points it covers and its log-probability given the text
/// before it (`None` where it has no left context: the text's first token).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenScore {
    pub span: CharSpan,
    pub logprob: Option<f32>,
}

/// What kogi needs from a language model. Token counts and ids are the model's own.
pub trait Generator: Send {
    /// The model's name (shown to the user; keys cached scans).
    fn name(&self) -> &str;
    /// Where it runs, in words ("CPU", "CUDA", …).
    fn runs_on(&self) -> String;
    /// The execution provider asked for and the one in use, for an ONNX Runtime model.
    fn provider(&self) -> Option<ProviderReport> {
        None
    }
    /// Whether [`Chat::reply_prefix`] is honoured (a server's chat API cannot begin a reply for it).
    fn primes_replies(&self) -> bool {
        true
    }
    /// An independent handle on the same model, where one costs nothing (a server's client), so
    /// that questions from several threads run at once; `None` = one generation at a time.
    fn fork(&self) -> Option<Box<dyn Generator>> {
        None
    }
    /// The context window, in tokens.
    fn context_window(&self) -> usize;
    /// Tokens `text` takes on its own.
    fn count_tokens(&self, text: &str) -> Result<usize>;
    /// Tokens the chat's prompt takes, ready for the reply (reply prefix included).
    fn count_chat_tokens(&self, chat: &Chat) -> Result<usize>;
    /// Continue the chat, streaming the reply's text through `on_text` (the reply prefix is not
    /// streamed and not part of [`Generation::text`]).
    fn reply(
        &mut self,
        chat: &Chat,
        params: &GenerateParams,
        on_text: &mut dyn FnMut(&str),
        cancel: &AtomicBool,
    ) -> Result<Generation>;
    /// `n` sampled replies to one chat (one batch where the engine can).
    fn replies(&mut self, chat: &Chat, n: usize, params: &GenerateParams, cancel: &AtomicBool) -> Result<Vec<Generation>>;
    /// For each chat, the log-probability that the reply's first token spells each of `words`
    /// (every spelling of a word summed: "yes", " Yes", "YES"). Nothing is generated.
    fn next_word_logprobs(&mut self, chats: &[Chat], words: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// Every token of `text` with its log-probability given the text before it, read in
    /// `windows`; `progress(done, total)` counts windows; `cancel` stops between windows.
    fn token_logprobs(
        &mut self,
        text: &str,
        windows: TokenWindows,
        progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
    ) -> Result<Vec<TokenScore>>;
    /// Total log-probability (nats) of `text` as a document of its own.
    fn text_logprob(&mut self, text: &str) -> Result<f64>;
}

/// A text sink that forwards each piece of the answer into a channel as it is produced (the desktop
/// shell and other threads read the stream from the receiver). A closed receiver is ignored.
pub fn channel_sink(tx: std::sync::mpsc::Sender<String>) -> impl FnMut(&str) {
    move |piece: &str| {
        let _ = tx.send(piece.to_owned());
    }
}
