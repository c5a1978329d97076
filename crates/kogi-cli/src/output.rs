//! How results look in a terminal, and in JSON for scripts.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kogi_core::eval::{RetrievalMetrics, TranscriptVersion};
use kogi_core::service::{Event, Job, Kogi, Passage};
use serde::Serialize;
use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::atomic::AtomicBool;

/// `s` for a terminal: control characters other than tab and line breaks (ESC, CSI, BEL, a lone
/// carriage return …) written out as `\u{1b}`, so text from a transcript or a file name can never
/// move the cursor, clear the screen or retitle the window.
pub fn printable(s: &str) -> Cow<'_, str> {
    let keep = |c: char, next: Option<char>| !c.is_control() || c == '\n' || c == '\t' || (c == '\r' && next == Some('\n'));
    let mut chars = s.chars().peekable();
    let mut clean = true;
    while let Some(c) = chars.next() {
        if !keep(c, chars.peek().copied()) {
            clean = false;
            break;
        }
    }
    if clean {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if keep(c, chars.peek().copied()) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// JSON text with DEL and the C1 controls (which serde_json leaves raw; U+009B is a CSI on some
/// terminals) escaped as `\u00XX` — the same JSON, safe on a terminal.
pub fn json_text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| ('\u{7f}'..='\u{9f}').contains(&c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(|c| if ('\u{7f}'..='\u{9f}').contains(&c) { format!("\\u{:04x}", c as u32) } else { c.to_string() }).collect())
}

pub struct Out {
    pub json: bool,
    pub quiet: bool,
}

impl Out {
    pub fn new(json: bool, quiet: bool) -> Self {
        Self { json, quiet }
    }

    /// A human line, unless `--json` or `--quiet`.
    pub fn line(&self, s: &str) {
        if !self.json && !self.quiet {
            say!("{s}");
        }
    }

    /// Print `v` as JSON when `--json`; says whether it did.
    pub fn json<T: Serialize>(&self, v: &T) -> bool {
        if self.json {
            println!("{}", json_text(&serde_json::to_string_pretty(v).expect("serialisable")));
        }
        self.json
    }

    /// Run `work` with a progress bar that follows its phases (nothing is drawn under `--json`,
    /// `--quiet` or without a terminal).
    pub fn work<T>(&self, what: &str, work: impl FnOnce(&mut Job) -> kogi_core::Result<T>) -> kogi_core::Result<T> {
        self.work_with(what, work, &mut |_| {})
    }

    /// As [`Out::work`], and every event also goes to `on_event` (streamed answers).
    pub fn work_with<T>(
        &self,
        what: &str,
        work: impl FnOnce(&mut Job) -> kogi_core::Result<T>,
        on_event: &mut dyn FnMut(Event),
    ) -> kogi_core::Result<T> {
        let bar = self.progress(what);
        let cancel = AtomicBool::new(false);
        let result = {
            let mut job = Job::new(&cancel, |e| {
                if let Event::Progress { phase, done, total } = e {
                    bar.set_message(format!("{what}: {}", phase.label()));
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                } else {
                    bar.suspend(|| on_event(e));
                }
            });
            work(&mut job)
        };
        bar.finish_and_clear();
        result
    }

    pub fn progress(&self, what: &str) -> ProgressBar {
        if self.quiet || self.json || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})").expect("template").progress_chars("=> "),
        );
        bar.set_message(what.to_owned());
        bar
    }
}

pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

pub fn print_passages(passages: &[Passage]) {
    if passages.is_empty() {
        say!("nothing found");
    }
    for (i, p) in passages.iter().enumerate() {
        let time = match p.start_ms {
            Some(ms) => format!(" @ {}", clock(ms)),
            None => String::new(),
        };
        say!(
            "[{}] {} — lecture {}, revision {}, chars {}..{}{}  (score {:.4}{}{})",
            i + 1,
            p.title,
            p.lecture,
            p.revision,
            p.span.start,
            p.span.end,
            time,
            p.score,
            p.dense.map(|d| format!(", cosine {d:.3}")).unwrap_or_default(),
            p.bm25.map(|b| format!(", bm25 {b:.2}")).unwrap_or_default(),
        );
        say!("    {}\n", excerpt(p, 300).replace('\n', " "));
    }
}

/// About `most` characters of a passage around the sentence that matched, which is what the reader
/// wants to see first (a window's opening sentences are often not why it was found).
fn excerpt(p: &Passage, most: usize) -> String {
    let chars: Vec<char> = p.text.chars().collect();
    let len = chars.len();
    let s = p.matched.start.saturating_sub(p.span.start).min(len);
    let e = p.matched.end.saturating_sub(p.span.start).clamp(s, len);
    // Centred on the matched sentence, shifted to stay inside the passage; a long one from its start.
    let from = if e - s >= most { s } else { ((s + e) / 2).saturating_sub(most / 2).min(len.saturating_sub(most)) };
    let to = (from + most).min(len);
    let text: String = chars[from..to].iter().collect();
    format!("{}{text}{}", if from > 0 { "…" } else { "" }, if to < len { "…" } else { "" })
}

pub fn print_metrics(m: &RetrievalMetrics, v: TranscriptVersion) {
    say!("transcript: {v:?}, {} answerable questions", m.questions);
    say!(
        "hit@1 {:.2}  hit@3 {:.2}  hit@5 {:.2}  MRR@5 {:.2}  mean context {:.0} chars",
        m.hit_at_1, m.hit_at_3, m.hit_at_5, m.mrr_at_5, m.mean_context_chars
    );
    for q in &m.per_question {
        say!("  {:<8} first relevant at {}", q.id, q.first_relevant.map(|r| r.to_string()).unwrap_or("-".into()));
    }
}

/// `kogi models verify`: every model folder checked against its manifest; fails when one is not whole.
pub fn models(kogi: &Kogi, out: &Out) -> Result<()> {
    let report = kogi.models_report();
    // A folder's problem, if it has one: unreadable manifest, or files that do not match it.
    let problem = |m: &serde_json::Value| -> Option<String> {
        let field = |k: &str| m.get(k).and_then(|v| v.as_str());
        field("error").map(str::to_owned).or_else(|| field("verified").filter(|v| *v != "ok").map(str::to_owned))
    };
    let bad = report.models.iter().filter(|m| problem(m).is_some()).count();
    if !out.json(&report) {
        say!("ONNX Runtime: {}", report.onnxruntime);
        say!("execution provider in use: {}", report.provider);
        say!("models in {}:", report.models_dir.display());
        if report.models.is_empty() {
            say!("  none — run scripts/setup.sh to build the defaults");
        }
        for m in &report.models {
            let name = m.get("name").and_then(|v| v.as_str()).map(str::to_owned).unwrap_or_else(|| m["dir"].as_str().unwrap_or("?").to_owned());
            match problem(m) {
                None => say!("  {name}: ok"),
                Some(p) => say!("  {name}: {p}"),
            }
        }
    }
    if bad > 0 {
        anyhow::bail!("{bad} of {} model folders failed the check — add a damaged model again (`kogi models add`), or rebuild the defaults with scripts/setup.sh", report.models.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_from_text_are_shown_not_obeyed() {
        assert_eq!(printable("講義\t1\n2\r\n"), "講義\t1\n2\r\n");
        assert_eq!(printable("a\u{1b}[2Jb\u{7}c\rd\u{9b}e"), "a\\u{1b}[2Jb\\u{7}c\\u{d}d\\u{9b}e");
        let json = serde_json::to_string(&"x\u{1b}y\u{9b}z\u{7f}").unwrap();
        let safe = json_text(&json);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe}");
        assert_eq!(serde_json::from_str::<String>(&safe).unwrap(), "x\u{1b}y\u{9b}z\u{7f}", "the same JSON value");
    }

    #[test]
    fn a_search_result_shows_the_text_around_the_sentence_that_matched() {
        use kogi_core::lecture::{LectureId, RevisionId};
        use kogi_core::text::CharSpan;
        // Characters 1000..1400 of a revision; the matched sentence is 1300..1310.
        let text = format!("{}{}{}", "前".repeat(300), "見つかった文です。ね", "後".repeat(90));
        let p = |matched| Passage {
            lecture: LectureId(1),
            title: String::new(),
            course: None,
            revision: RevisionId(1),
            span: CharSpan::new(1000, 1400),
            matched,
            text: text.clone(),
            start_ms: None,
            end_ms: None,
            score: 0.0,
            dense: None,
            bm25: None,
        };
        let shown = excerpt(&p(CharSpan::new(1300, 1310)), 100);
        assert_eq!(shown, format!("…{}見つかった文です。ね{}…", "前".repeat(45), "後".repeat(45)));
        // Near the end it shifts back to fill the space; a whole short passage is shown as it is.
        assert_eq!(excerpt(&p(CharSpan::new(1395, 1400)), 100), format!("…{}", &text[text.char_indices().nth(300).unwrap().0..]));
        assert_eq!(excerpt(&p(CharSpan::new(1300, 1310)), 1000), text);
    }
}
