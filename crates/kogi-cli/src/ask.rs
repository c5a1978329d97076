//! `kogi ask`: flags onto the settings and the request, the answer streamed, then its citations.

use crate::output::clock;
use crate::output::Out;
use anyhow::{Context, Result, bail};
use clap::Args;
use kogi_core::answer::prompt::Lang;
use kogi_core::answer::{Answer, AnswerWith, Rung, Scorer, ThinkHarder};
use kogi_core::lecture::LectureId;
use kogi_core::service::{AskRequest, Asked, Event, Kogi, QuoteReason, SearchFilter};
use kogi_core::settings::Settings;
use std::io::Write;
use std::path::PathBuf;

/// Every flag left out keeps the value in `settings.json` (the app's Settings screen).
#[derive(Args, Clone)]
pub struct AnswerArgs {
    /// Step of the RAG ladder: none, raw, corrected, windows, reranked, chunks
    #[arg(long)]
    pub mode: Option<Rung>,
    /// Passages handed to the model
    #[arg(short)]
    pub k: Option<usize>,
    /// Chat model folder [default: the settings' chat model]
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Answer language (ja, en) [default: the question's]
    #[arg(long)]
    pub lang: Option<Lang>,
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// 0 = greedy
    #[arg(long)]
    pub temperature: Option<f32>,
    #[arg(long)]
    pub top_p: Option<f32>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Turn n-gram speculative decoding off (it is on for greedy answers; output is identical)
    #[arg(long)]
    pub no_speculation: bool,
    /// Think harder: self-consistency:N, best-of:N (log-probability) or best-of:N:judge
    #[arg(long)]
    pub think: Option<String>,
    /// Below this best passage similarity the lecture is taken not to cover the question
    #[arg(long)]
    pub min_similarity: Option<f32>,
    /// Prime the answer with "[" so the model first names the excerpt it rests on (small models
    /// rarely cite on their own): true or false
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub lead_citation: Option<bool>,
    /// Who words the answer: auto (quotes when the chat model cannot read the lecture's language),
    /// model, or quotes (the lecture's own best sentences, verbatim)
    #[arg(long)]
    pub answer_with: Option<AnswerWith>,
    #[arg(long = "lecture")]
    pub lectures: Vec<i64>,
    #[arg(long)]
    pub course: Option<String>,
}

impl AnswerArgs {
    /// The flags given, onto the stored settings (for this run only).
    pub fn apply(&self, s: &mut Settings) -> Result<()> {
        if let Some(m) = self.mode {
            s.mode = m;
        }
        if let Some(k) = self.k {
            s.k = k;
        }
        if self.lang.is_some() {
            s.lang = self.lang;
        }
        if let Some(t) = self.max_tokens {
            s.max_tokens = t;
        }
        if let Some(t) = self.temperature {
            s.temperature = t;
        }
        if let Some(p) = self.top_p {
            s.top_p = p;
        }
        if self.no_speculation {
            s.speculation = false;
        }
        if let Some(m) = self.min_similarity {
            s.min_similarity = m;
        }
        if let Some(l) = self.lead_citation {
            s.lead_citation = l;
        }
        if let Some(a) = self.answer_with {
            s.answer_with = a;
        }
        s.validate()?;
        Ok(())
    }

    pub fn request(&self, question: &str, modes: Vec<Rung>) -> Result<AskRequest> {
        Ok(AskRequest {
            question: question.to_owned(),
            modes,
            think: false,
            think_method: self.think.as_deref().map(parse_think).transpose()?,
            filter: SearchFilter {
                lectures: self.lectures.iter().copied().map(LectureId).collect(),
                course: self.course.clone(),
                ..Default::default()
            },
            seed: self.seed,
            answer_with: None,
        })
    }
}

fn parse_think(s: &str) -> Result<ThinkHarder> {
    let parts: Vec<&str> = s.split(':').collect();
    let n = |x: Option<&&str>| -> Result<usize> {
        x.context("give the number of samples, e.g. self-consistency:5")?.parse::<usize>().context("samples must be a number")
    };
    Ok(match parts.first().copied() {
        Some("self-consistency") => ThinkHarder::SelfConsistency { n: n(parts.get(1))? },
        Some("best-of") => ThinkHarder::BestOfN {
            n: n(parts.get(1))?,
            scorer: match parts.get(2).copied() {
                None | Some("logprob") => Scorer::LogProb,
                Some("judge") => Scorer::Judge,
                Some(o) => bail!("unknown scorer {o:?} — use logprob or judge"),
            },
        },
        _ => bail!("--think takes self-consistency:N or best-of:N[:judge]"),
    })
}

fn print_answer_tail(a: &Answer) {
    if a.trimmed_passages > 0 {
        say!("\n(note: {} passage(s) were left out or shortened to fit the model's window)", a.trimmed_passages);
    }
    if let Some(why) = &a.interrupted {
        say!("\n(incomplete: {why} — what arrived is kept above)");
    } else if a.cut {
        say!("\n(the answer hit the token limit and may be incomplete — raise --max-tokens)");
    }
    if !a.citations.is_empty() {
        say!("\ncitations:");
        for c in &a.citations {
            let time = c.start_ms.map(|ms| format!(" @ {}", clock(ms))).unwrap_or_default();
            say!("  [{}] {} — lecture {}, revision {}, chars {}..{}{}", c.n, c.title, c.lecture, c.revision, c.span.start, c.span.end, time);
        }
    } else if !a.passages.is_empty() && !a.not_covered {
        say!("\n(the answer cites no passage; the passages it was given:)");
        for (i, p) in a.passages.iter().enumerate() {
            say!("  [{}] {} — lecture {}, revision {}, chars {}..{}", i + 1, p.title, p.lecture, p.revision, p.span.start, p.span.end);
        }
    }
    if let Some(t) = &a.think {
        say!(
            "\nthought harder: {} samples, chose #{} (scores {:?}); {} tokens generated in {:.1} s",
            t.samples,
            t.chosen + 1,
            t.scores.iter().map(|s| (s * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
            t.new_tokens,
            t.ms / 1e3
        );
    }
}

/// `kogi ask`: stream the answer, then list the citations; `--compare` runs several ladder steps.
pub fn ask(kogi: &Kogi, question: &str, args: &AnswerArgs, compare: Option<Vec<Rung>>, out: &Out) -> Result<()> {
    let modes = compare.unwrap_or_else(|| vec![kogi.settings().mode]);
    let request = args.request(question, modes)?;
    let stream = !out.json && !out.quiet;
    let mut started = 0usize;
    let mut open = false;
    let answers = out.work_with("asking", |job| kogi.ask(&request, job), &mut |e| match e {
        Event::Text { part, text } if stream => {
            if !open {
                if started > 0 {
                    say!("\n────────────────────────────────────────");
                }
                say!("[{part}]");

                started += 1;
                open = true;
            }
            say_inline!("{text}");
            let _ = std::io::stdout().flush();
        }
        Event::Answered { answer } if stream => {
            say!();
            print_answer_tail(answer);
            open = false;
        }
        _ => {}
    })?;
    out.json(&answers.answers);
    if !out.json && let Some(r) = answers.quoted {
        say!("\n{}", why_quoted(&answers, r));
    }
    if !out.json && !out.quiet && let Some(host) = &answers.answered_by {
        say!("\n(answered by {host}: it was sent the question and the retrieved passages, nothing else)");
    }
    Ok(())
}

/// Why the answer is quotes, and what to do to get written answers.
pub fn why_quoted(a: &Asked, reason: QuoteReason) -> String {
    match reason {
        QuoteReason::Asked => "(quoted from the lecture, as asked — no model wrote this)".into(),
        QuoteReason::NoModel => format!(
            "(quoted from the lecture — the chat model {:?} is not installed; add one with `kogi models add FILE`)",
            a.chat_model
        ),
        QuoteReason::ModelCannotRead => {
            let per = a.fit.as_ref().and_then(|f| f.tokens_per_ja_char).map(|t| format!(", {t:.1} tokens per Japanese character")).unwrap_or_default();
            format!(
                "(quoted from the lecture — the chat model {:?} cannot read Japanese{per}; its answers would be noise. \
                 Import a Japanese-capable model with `kogi models add FILE.gguf` (or a Hugging Face folder) and choose it \
                 with `kogi models use NAME`, or pass --answer-with model to hear it anyway)",
                a.chat_model
            )
        }
    }
}
