//! A generator that plays a script, for unit tests of the pipelines above generation (answers,
//! reranking, scans) without a model file. Tokens are characters.

use super::{Chat, Generator, TokenScore, TokenWindows};
use super::params::{FinishReason, GenerateParams, Generation, GenerationStats};
use crate::text::CharSpan;
use crate::{Error, Result};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

/// Replies in order; yes/no and token scores from functions of the input.
pub struct Scripted {
    pub replies: VecDeque<String>,
    /// The chats it was asked to reply to, in order.
    pub asked: Vec<Chat>,
    /// P(yes) for a yes/no chat (the whole prompt as one string).
    pub yes: Box<dyn Fn(&str) -> f32 + Send>,
    /// Log-probability of a character given the text before it.
    pub char_logprob: Box<dyn Fn(&[char], usize) -> f32 + Send>,
    pub context: usize,
}

impl Scripted {
    pub fn new(replies: &[&str]) -> Self {
        Self {
            replies: replies.iter().map(|s| s.to_string()).collect(),
            asked: Vec::new(),
            yes: Box::new(|_| 0.5),
            char_logprob: Box::new(|_, _| -1.0),
            context: 4096,
        }
    }

    fn flat(chat: &Chat) -> String {
        let mut s: String = chat.messages.iter().map(|m| format!("{}: {}\n", m.role, m.content)).collect();
        s.push_str(&chat.reply_prefix);
        s
    }
}

impl Generator for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn runs_on(&self) -> String {
        "script".into()
    }
    fn context_window(&self) -> usize {
        self.context
    }
    fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(text.chars().count())
    }
    fn count_chat_tokens(&self, chat: &Chat) -> Result<usize> {
        Ok(Self::flat(chat).chars().count())
    }
    fn reply(&mut self, chat: &Chat, params: &GenerateParams, on_text: &mut dyn FnMut(&str), cancel: &AtomicBool) -> Result<Generation> {
        self.asked.push(chat.clone());
        let script = self.replies.pop_front().ok_or_else(|| Error::Invalid("the script has no more replies".into()))?;
        let mut text = String::new();
        let mut finish = FinishReason::EndOfTurn;
        for (i, c) in script.chars().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                finish = FinishReason::Cancelled;
                break;
            }
            if i >= params.max_new_tokens {
                finish = FinishReason::MaxTokens;
                break;
            }
            text.push(c);
            if let Some(s) = params.stop_strings.iter().find(|s| text.ends_with(s.as_str())) {
                text.truncate(text.len() - s.len());
                finish = FinishReason::StopString;
                break;
            }
            on_text(&c.to_string());
        }
        let n = text.chars().count();
        let stats = GenerationStats { prompt_tokens: self.count_chat_tokens(chat)?, new_tokens: n, forward_passes: n as u64, ..Default::default() };
        Ok(Generation { tokens: text.chars().map(|c| c as u32).collect(), text, finish, stats, logprob: -(n as f64), interrupted: None })
    }
    fn replies(&mut self, chat: &Chat, n: usize, params: &GenerateParams, cancel: &AtomicBool) -> Result<Vec<Generation>> {
        (0..n).map(|_| self.reply(chat, params, &mut |_| {}, cancel)).collect()
    }
    fn next_word_logprobs(&mut self, chats: &[Chat], words: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(chats
            .iter()
            .map(|c| {
                let y = (self.yes)(&Self::flat(c)).clamp(1e-6, 1.0 - 1e-6);
                words.iter().map(|w| if w.eq_ignore_ascii_case("yes") { y.ln() } else { (1.0 - y).ln() }).collect()
            })
            .collect())
    }
    fn token_logprobs(&mut self, text: &str, windows: TokenWindows, progress: &mut dyn FnMut(usize, usize), cancel: &AtomicBool) -> Result<Vec<TokenScore>> {
        let chars: Vec<char> = text.chars().collect();
        let total = chars.len().div_ceil(windows.stride.max(1)).max(1);
        progress(0, total);
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        progress(total, total);
        Ok((0..chars.len())
            .map(|i| TokenScore { span: CharSpan::new(i, i + 1), logprob: (i > 0).then(|| (self.char_logprob)(&chars, i)) })
            .collect())
    }
    fn text_logprob(&mut self, text: &str) -> Result<f64> {
        let chars: Vec<char> = text.chars().collect();
        Ok((0..chars.len()).map(|i| (self.char_logprob)(&chars, i) as f64).sum())
    }
}
