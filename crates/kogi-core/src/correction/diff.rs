//! Character diffs between revisions. Japanese has no word boundaries, so kogi diffs code points
//! (Myers, with a deadline so a pathological pair of texts degrades to a coarser diff instead of
//! hanging), then groups nearby changes into hunks a person can read. The same diff carries segment
//! timestamps from one revision to the next, so an edited transcript keeps its times.

use crate::text::CharSpan;
use crate::transcript::Segment;
use serde::{Deserialize, Serialize};
use similar::{Algorithm, DiffOp};
use std::time::{Duration, Instant};

/// Changes separated by at most this many unchanged characters are shown as one hunk.
pub const MERGE_GAP: usize = 2;
/// Unchanged characters shown on each side of a hunk.
pub const CONTEXT_CHARS: usize = 20;
/// After this long the diff stops searching for the shortest edit script and settles for a coarser
/// (still correct) one. Two 30,000-character lectures take ~50 ms in release.
const DEADLINE: Duration = Duration::from_secs(2);

/// One readable change: `old_text` at `old` (code points of the old text) became `new_text` at `new`
/// (code points of the new text). `before`/`after`: up to [`CONTEXT_CHARS`] unchanged characters
/// around it (taken from the old text; they are the same in the new one).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Hunk {
    pub old: CharSpan,
    pub new: CharSpan,
    pub old_text: String,
    pub new_text: String,
    pub before: String,
    pub after: String,
}

/// One maximal changed region of a character diff: `old` (possibly empty) was replaced by `new`
/// (possibly empty). Regions are sorted and separated by at least one unchanged character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Change {
    pub old: CharSpan,
    pub new: CharSpan,
}

/// The changed regions between two code-point sequences (Myers with a deadline).
pub(crate) fn char_changes(old: &[char], new: &[char]) -> Vec<Change> {
    if old == new {
        return Vec::new();
    }
    let ops = similar::capture_diff_slices_deadline(Algorithm::Myers, old, new, Instant::now().checked_add(DEADLINE));
    let mut out: Vec<Change> = Vec::new();
    let mut open = false;
    for op in ops {
        let (oi, ol, ni, nl) = match op {
            DiffOp::Equal { .. } => {
                open = false;
                continue;
            }
            DiffOp::Delete { old_index, old_len, new_index } => (old_index, old_len, new_index, 0),
            DiffOp::Insert { old_index, new_index, new_len } => (old_index, 0, new_index, new_len),
            DiffOp::Replace { old_index, old_len, new_index, new_len } => (old_index, old_len, new_index, new_len),
        };
        match out.last_mut() {
            Some(c) if open && c.old.end == oi && c.new.end == ni => {
                c.old.end = oi + ol;
                c.new.end = ni + nl;
            }
            _ => out.push(Change { old: CharSpan::new(oi, oi + ol), new: CharSpan::new(ni, ni + nl) }),
        }
        open = true;
    }
    out
}

/// Merge changes separated by at most `gap` unchanged characters.
pub(crate) fn group_changes(changes: &[Change], gap: usize) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::with_capacity(changes.len());
    for c in changes {
        match out.last_mut() {
            Some(g) if c.old.start - g.old.end <= gap => {
                g.old.end = c.old.end;
                g.new.end = c.new.end;
            }
            _ => out.push(*c),
        }
    }
    out
}

/// Character-level diff of two texts, grouped into hunks: changes separated by at most
/// [`MERGE_GAP`] unchanged characters form one hunk; each hunk carries up to [`CONTEXT_CHARS`]
/// characters of context on each side. `apply_hunks(old, &diff_texts(old, new)) == new`.
pub fn diff_texts(old: &str, new: &str) -> Vec<Hunk> {
    let a: Vec<char> = old.chars().collect();
    let b: Vec<char> = new.chars().collect();
    group_changes(&char_changes(&a, &b), MERGE_GAP)
        .into_iter()
        .map(|g| Hunk {
            old: g.old,
            new: g.new,
            old_text: a[g.old.start..g.old.end].iter().collect(),
            new_text: b[g.new.start..g.new.end].iter().collect(),
            before: a[g.old.start.saturating_sub(CONTEXT_CHARS)..g.old.start].iter().collect(),
            after: a[g.old.end..(g.old.end + CONTEXT_CHARS).min(a.len())].iter().collect(),
        })
        .collect()
}

/// Apply hunks (by their `old` spans, in text order) to `old`. Hunks that overlap an earlier one or
/// reach past the end of `old` are skipped. Only `old` spans and `new_text` are used, so hunks made
/// by hand (or edited in a UI) apply too.
pub fn apply_hunks(old: &str, hunks: &[Hunk]) -> String {
    let a: Vec<char> = old.chars().collect();
    let mut order: Vec<&Hunk> = hunks.iter().collect();
    order.sort_by_key(|h| (h.old.start, h.old.end));
    let mut out = String::with_capacity(old.len());
    let mut pos = 0;
    for h in order {
        if h.old.start < pos || h.old.end > a.len() || h.old.start > h.old.end {
            continue;
        }
        out.extend(&a[pos..h.old.start]);
        out.push_str(&h.new_text);
        pos = h.old.end;
    }
    out.extend(&a[pos..]);
    out
}

/// Where old position `p` (a boundary between code points) lies in the new text. Unchanged text
/// shifts by the diff; a boundary inside a replaced region maps proportionally into its
/// replacement. Text inserted exactly at `p` goes after the boundary for a segment start and before
/// it for a segment end, so a segment keeps what was typed at either of its edges.
fn map_pos(changes: &[Change], p: usize, is_end: bool) -> usize {
    let k = changes.partition_point(|c| c.old.start <= p);
    let Some(c) = k.checked_sub(1).map(|i| changes[i]) else {
        return p;
    };
    if p < c.old.end {
        // Inside (or at the start of) a replaced or deleted region.
        let (os, ol, ns, nl) = (c.old.start, c.old.len(), c.new.start, c.new.len());
        ns + (p - os) * nl / ol
    } else if c.old.is_empty() && c.old.start == p {
        if is_end { c.new.end } else { c.new.start }
    } else {
        c.new.end + (p - c.old.end)
    }
}

/// Map segment timestamps of `old` onto `new` so edited revisions keep their times. Every segment
/// keeps its times; its span moves with the diff: a segment whose text survives covers the same
/// text in `new`, one partly edited covers its edited text, one whose text was deleted entirely
/// becomes an empty span where it was. Segments never come to overlap.
pub fn map_segments(old: &str, new: &str, segments: &[Segment]) -> Vec<Segment> {
    if segments.is_empty() {
        return Vec::new();
    }
    let a: Vec<char> = old.chars().collect();
    let b: Vec<char> = new.chars().collect();
    let changes = char_changes(&a, &b);
    let mut out: Vec<Segment> = Vec::with_capacity(segments.len());
    for s in segments {
        let start = map_pos(&changes, s.span.start.min(a.len()), false).min(b.len());
        let end = map_pos(&changes, s.span.end.min(a.len()), true).min(b.len()).max(start);
        if let Some(prev) = out.last_mut()
            && prev.span.end > start
            && prev.span.start <= start
        {
            prev.span.end = start;
        }
        out.push(Segment { span: CharSpan::new(start, end), ..s.clone() });
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    const RAW: &str = "../../../shared/data/LLM2024_day4_raw.txt";
    const CORRECTED: &str = "../../../shared/data/LLM2024_day4.txt";

    /// The two real lecture texts, or None (test skipped) where shared/ is absent.
    pub(crate) fn real_texts() -> Option<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let raw = std::fs::read_to_string(dir.join(RAW)).ok()?;
        let corrected = std::fs::read_to_string(dir.join(CORRECTED)).ok()?;
        Some((raw, corrected))
    }

    fn seg(start: usize, end: usize, ms: u64) -> Segment {
        Segment { span: CharSpan::new(start, end), start_ms: Some(ms), end_ms: Some(ms + 1000) }
    }

    proptest! {
        #[test]
        fn diff_round_trips_on_random_strings(old in "[あいうアイ則足 \n]{0,40}", new in "[あいうアイ則足 \n]{0,40}") {
            let hunks = diff_texts(&old, &new);
            prop_assert_eq!(apply_hunks(&old, &hunks), new.clone());
            // Hunks are sorted, disjoint, and separated by more than MERGE_GAP unchanged chars.
            for w in hunks.windows(2) {
                prop_assert!(w[1].old.start > w[0].old.end + MERGE_GAP);
            }
        }

        #[test]
        fn mapped_segments_stay_ordered_and_inside_the_new_text(
            old in "[あいう\n]{1,30}", new in "[あいう\n]{0,30}", cuts in proptest::collection::vec(0usize..30, 0..6)
        ) {
            let n = old.chars().count();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(n)).collect();
            cuts.push(0);
            cuts.push(n);
            cuts.sort();
            let segs: Vec<Segment> = cuts.windows(2).enumerate().map(|(i, w)| seg(w[0], w[1], i as u64)).collect();
            let mapped = map_segments(&old, &new, &segs);
            prop_assert_eq!(mapped.len(), segs.len());
            let m = new.chars().count();
            for w in mapped.windows(2) {
                prop_assert!(w[0].span.end <= w[1].span.start);
            }
            for (s, o) in mapped.iter().zip(&segs) {
                prop_assert!(s.span.start <= s.span.end && s.span.end <= m);
                prop_assert_eq!(s.start_ms, o.start_ms);
            }
        }
    }

    #[test]
    fn diff_round_trips_on_the_real_lecture_quickly() {
        let Some((raw, corrected)) = real_texts() else {
            eprintln!("shared/data not present: skipped");
            return;
        };
        let t = Instant::now();
        let hunks = diff_texts(&raw, &corrected);
        let took = t.elapsed();
        assert_eq!(apply_hunks(&raw, &hunks), corrected);
        assert!(hunks.len() > 100, "{} hunks", hunks.len());
        assert!(hunks.iter().any(|h| h.old_text.contains("大湾") && h.new_text.contains("o1")), "o1 hunk");
        // Release takes ~50 ms; allow for an unoptimised test build on a busy machine.
        let limit = if cfg!(debug_assertions) { 10.0 } else { 1.0 };
        assert!(took.as_secs_f64() < limit, "diff took {took:?}");
    }

    #[test]
    fn hunks_group_nearby_changes_and_carry_context() {
        let old = "今日はスケール足について話します。水温時の計算。";
        let new = "今日はスケール則について話します。推論時の計算。";
        let hunks = diff_texts(old, new);
        assert_eq!(hunks.len(), 2, "{hunks:#?}");
        assert_eq!((hunks[0].old_text.as_str(), hunks[0].new_text.as_str()), ("足", "則"));
        assert_eq!(hunks[0].before, "今日はスケール");
        assert_eq!(hunks[0].after, "について話します。水温時の計算。");
        assert_eq!(hunks[0].old, CharSpan::new(7, 8));
        // 水温 → 推論: two changed chars with nothing unchanged between them form one hunk.
        assert_eq!((hunks[1].old_text.as_str(), hunks[1].new_text.as_str()), ("水温", "推論"));
        // Changes two chars apart merge; three apart stay separate.
        assert_eq!(diff_texts("aXbcYd", "aZbcWd").len(), 1);
        assert_eq!(diff_texts("aXbcdYe", "aZbcdWe").len(), 2);
        assert!(diff_texts("同じ", "同じ").is_empty());
        let long = "あ".repeat(50);
        let h = diff_texts(&format!("{long}X{long}"), &format!("{long}Y{long}"));
        assert_eq!((h[0].before.chars().count(), h[0].after.chars().count()), (CONTEXT_CHARS, CONTEXT_CHARS));
    }

    #[test]
    fn map_segments_keeps_times_of_unchanged_cues() {
        let old = "一つ目の文です。\n二つ目は大湾の話。\n三つ目。";
        let new = "一つ目の文です。\n二つ目はo1という話。\n三つ目。";
        let segs = vec![seg(0, 8, 0), seg(9, 18, 1000), seg(19, 23, 2000)];
        let mapped = map_segments(old, new, &segs);
        let text = |s: &Segment| slice(new, s.span);
        assert_eq!(text(&mapped[0]), "一つ目の文です。");
        assert_eq!(text(&mapped[1]), "二つ目はo1という話。");
        assert_eq!(text(&mapped[2]), "三つ目。");
        for (m, s) in mapped.iter().zip(&segs) {
            assert_eq!((m.start_ms, m.end_ms), (s.start_ms, s.end_ms));
        }
        // Text typed at the end of a cue stays in that cue…
        let typed = "一つ目の文です。追加\n二つ目は大湾の話。\n三つ目。";
        let mapped = map_segments(old, typed, &segs);
        assert_eq!(slice(typed, mapped[0].span), "一つ目の文です。追加");
        assert_eq!(slice(typed, mapped[1].span), "二つ目は大湾の話。");
        // …a deleted cue becomes empty, and a cue replaced wholesale covers its replacement.
        let cut = "一つ目の文です。\n三つ目。";
        let mapped = map_segments(old, cut, &segs);
        assert!(mapped[1].span.is_empty());
        assert_eq!(slice(cut, mapped[2].span), "三つ目。");
        let replaced = "一つ目の文です。\n別の文章\n三つ目。";
        assert_eq!(slice(replaced, map_segments(old, replaced, &segs)[1].span), "別の文章");
    }

    fn slice(t: &str, s: CharSpan) -> String {
        t.chars().skip(s.start).take(s.len()).collect()
    }
}
