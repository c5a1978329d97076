//! Draft strategies replayed on real greedy answers, to choose between them by measurement.
//!
//! Several drafts verified in one pass (the N-Grammys "batched" drafts) would be a token tree fed as
//! one sequence with an attention mask, each draft token attending to the cache and its own
//! ancestors (ONNX Runtime's CPU attention takes such a mask; its CUDA kernel does not; kogi's
//! generation loop verifies one sequence). Whether a tree pays depends on two measured things only: how many tokens each strategy gets
//! accepted per pass on the model's real answers (exact, by replay: greedy output is fixed, so
//! every strategy's acceptance follows from it without running it), and what a pass of `rows`
//! rows costs on this machine ([`super::VerifyCost`], timed in the same run). The replay combines
//! the two into a modelled speedup over plain greedy's two-row steps. The linear strategies are the
//! ones kogi runs, so their modelled speedup can be checked against the measured one.

use crate::generate::speculative::verifier::accepted;
use crate::generate::speculative::{BigramTable, NgramConfig, NgramDrafter};
use serde::Serialize;

/// A way of drafting for one verification pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// One sequence: context n-grams, then (with `model`) a chain of the model's bigram choices.
    Linear { model: bool },
    /// The context draft plus the model's top `children` next tokens, each continued by first
    /// choices to `depth` tokens, merged into one tree.
    Tree { children: usize, depth: usize },
    /// The continuations of every matching suffix length (they differ when the shorter suffixes
    /// last occurred elsewhere), merged into one tree; the model chain when none matches.
    ContextTree,
}

impl Strategy {
    pub fn name(&self) -> String {
        match *self {
            Strategy::Linear { model: false } => "context".into(),
            Strategy::Linear { model: true } => "context, then model chain (kogi's)".into(),
            Strategy::Tree { children, depth } => format!("tree: context + model top-{children}, {depth} deep"),
            Strategy::ContextTree => "tree: context drafts of every suffix length, else model chain".into(),
        }
    }
}

/// The strategies the bench replays.
pub const STRATEGIES: &[Strategy] = &[
    Strategy::Linear { model: false },
    Strategy::Linear { model: true },
    Strategy::Tree { children: 2, depth: 1 },
    Strategy::Tree { children: 3, depth: 1 },
    Strategy::Tree { children: 2, depth: 2 },
    Strategy::Tree { children: 1, depth: 3 },
    Strategy::Tree { children: 2, depth: 3 },
    Strategy::Tree { children: 4, depth: 2 },
    Strategy::ContextTree,
];

#[derive(Debug, Clone, Serialize)]
pub struct DraftReplay {
    /// Rows per verification pass, averaged (the pending token included; a plain greedy step feeds 1 on kogi's kernels, else 2).
    pub mean_rows: f64,
    /// Plain greedy's time over this strategy's, both from the measured pass costs.
    pub modelled_speedup: f64,
    pub passes: usize,
    pub prompt: String,
    pub strategy: String,
    pub tokens_per_pass: f64,
}

/// Draft tokens as a tree over the pending token (node 0); parents come before their children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftTree {
    pub tokens: Vec<u32>,
    pub parents: Vec<usize>,
}

impl DraftTree {
    pub fn new(root: u32) -> Self {
        Self { tokens: vec![root], parents: vec![usize::MAX] }
    }

    /// Rows a pass verifying the tree feeds.
    pub fn rows(&self) -> usize {
        self.tokens.len()
    }

    fn child(&self, of: usize, token: u32) -> Option<usize> {
        (1..self.tokens.len()).find(|&i| self.parents[i] == of && self.tokens[i] == token)
    }

    /// Add a path below the root, sharing the prefix it has in common with what is there.
    pub fn add(&mut self, path: &[u32]) {
        let mut at = 0;
        for &t in path {
            at = match self.child(at, t) {
                Some(i) => i,
                None => {
                    self.tokens.push(t);
                    self.parents.push(at);
                    self.tokens.len() - 1
                }
            };
        }
    }

    /// Draft tokens greedy decoding keeps: the longest path from the root that `greedy` follows.
    pub fn accepted(&self, greedy: &[u32]) -> usize {
        let mut at = 0;
        let mut n = 0;
        for &t in greedy {
            match self.child(at, t) {
                Some(i) => {
                    at = i;
                    n += 1;
                }
                None => break,
            }
        }
        n
    }
}

/// Pass time (ms) for `rows` rows from measured `(rows, ms)` points: linear between them and
/// beyond the last two.
pub fn pass_ms(points: &[(usize, f64)], rows: usize) -> f64 {
    if let Some(&(_, ms)) = points.iter().find(|(r, _)| *r == rows) {
        return ms;
    }
    if points.len() < 2 {
        return points.first().map_or(0.0, |&(_, ms)| ms);
    }
    let i = points.partition_point(|(r, _)| *r < rows).clamp(1, points.len() - 1);
    let ((r0, m0), (r1, m1)) = (points[i - 1], points[i]);
    m0 + (m1 - m0) * (rows as f64 - r0 as f64) / (r1 as f64 - r0 as f64)
}

/// One pass of kogi's own drafter: its proposal verified, its length adapted; the rows fed (at
/// least `step_rows`: a pass with no draft is a plain greedy step) and the tokens kept.
fn linear_pass(d: &mut NgramDrafter, greedy: &[u32], step_rows: usize) -> (usize, usize) {
    let draft = d.propose();
    let accepted = accepted(&draft, greedy);
    if !draft.is_empty() {
        d.observe(draft.len(), accepted);
    }
    ((draft.len() + 1).max(step_rows), accepted)
}

/// Replay `strategy` over the greedy answer `tokens` to `prompt`: passes, rows and the modelled
/// speedup over plain greedy steps of `step_rows` rows (one where a row computes the same in a pass
/// of any size, as on kogi's kernels; two where exactness re-feeds the last cached token).
#[allow(clippy::too_many_arguments)]
pub fn replay(
    name: &str,
    prompt: &[u32],
    tokens: &[u32],
    strategy: Strategy,
    table: Option<&std::sync::Arc<BigramTable>>,
    ngram: &NgramConfig,
    cost: &[(usize, f64)],
    step_rows: usize,
) -> DraftReplay {
    let with_model = matches!(strategy, Strategy::Linear { model: true } | Strategy::ContextTree);
    let cfg = NgramConfig { model_k: if with_model { ngram.model_k } else { 0 }, ..ngram.clone() };
    let mut d = NgramDrafter::new(cfg).with_table(table.filter(|_| with_model).cloned()).with_row_cost(crate::generate::onnx::draft_row_cost(step_rows));
    d.extend(prompt);
    let (mut t, mut passes, mut rows_total, mut ms) = (0, 0, 0, 0.0);
    while t < tokens.len() {
        d.extend(&tokens[t..t + 1]);
        let greedy = &tokens[t + 1..];
        let (rows, accepted) = match strategy {
            Strategy::Linear { .. } => linear_pass(&mut d, greedy, step_rows),
            Strategy::ContextTree => {
                let drafts = d.drafts_by_length();
                if drafts.len() < 2 {
                    // One continuation or none: exactly the linear drafter (which adapts its length).
                    linear_pass(&mut d, greedy, step_rows)
                } else {
                    let mut tree = DraftTree::new(tokens[t]);
                    for c in &drafts {
                        tree.add(c);
                    }
                    d.observe(drafts[0].len(), accepted(&drafts[0], greedy));
                    (tree.rows(), tree.accepted(greedy))
                }
            }
            Strategy::Tree { children, depth } => {
                let root = tokens[t];
                let mut tree = DraftTree::new(root);
                let context = d.draft_next();
                tree.add(&context);
                if let Some(table) = table {
                    for &first in table.next(root).iter().take(children) {
                        let mut path = vec![first];
                        path.extend(table.chain(first, depth.saturating_sub(1)));
                        tree.add(&path);
                    }
                }
                if !context.is_empty() {
                    d.observe(context.len(), accepted(&context, greedy));
                }
                (tree.rows().max(step_rows), tree.accepted(greedy))
            }
        };
        let accepted = accepted.min(greedy.len());
        d.extend(&greedy[..accepted]);
        t += accepted + 1;
        passes += 1;
        rows_total += rows;
        ms += pass_ms(cost, rows);
    }
    let plain = pass_ms(cost, step_rows) * tokens.len() as f64;
    DraftReplay {
        mean_rows: rows_total as f64 / passes.max(1) as f64,
        modelled_speedup: if ms > 0.0 { plain / ms } else { 1.0 },
        passes,
        prompt: name.to_owned(),
        strategy: strategy.name(),
        tokens_per_pass: tokens.len() as f64 / passes.max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_shares_prefixes_and_accepts_the_longest_path_greedy_follows() {
        let mut t = DraftTree::new(1);
        t.add(&[5, 6, 7]);
        t.add(&[5, 8]);
        t.add(&[9]);
        assert_eq!(t.rows(), 6, "5 is shared: 1, 5, 6, 7, 8, 9");
        assert_eq!(t.accepted(&[5, 8, 3]), 2);
        assert_eq!(t.accepted(&[5, 6, 7, 4]), 3);
        assert_eq!(t.accepted(&[9, 9]), 1);
        assert_eq!(t.accepted(&[6]), 0);
        assert!(t.parents[1..].iter().enumerate().all(|(i, &p)| p < i + 1), "parents come first");
    }

    #[test]
    fn pass_time_interpolates_between_measured_widths_and_extends_past_the_last() {
        let pts = [(1, 10.0), (2, 12.0), (4, 16.0)];
        assert_eq!(pass_ms(&pts, 2), 12.0);
        assert_eq!(pass_ms(&pts, 3), 14.0);
        assert_eq!(pass_ms(&pts, 6), 20.0);
    }

    #[test]
    fn a_context_drafter_on_a_repeated_answer_needs_fewer_passes_than_tokens() {
        // The answer repeats the prompt word for word: context drafts copy it.
        let prompt: Vec<u32> = (10..40).collect();
        let tokens: Vec<u32> = (10..40).collect();
        let cost = [(1, 10.0), (2, 11.0), (9, 18.0)];
        for step_rows in [1, 2] {
            let r = replay("p", &prompt, &tokens, Strategy::Linear { model: false }, None, &NgramConfig::default(), &cost, step_rows);
            assert!(r.passes < tokens.len() / 3, "{r:?}");
            assert!(r.modelled_speedup > 2.0, "{r:?}");
            // With nothing to copy every pass keeps one token: no faster than plain greedy.
            let fresh: Vec<u32> = (100..130).collect();
            let r = replay("p", &prompt, &fresh, Strategy::Linear { model: false }, None, &NgramConfig::default(), &cost, step_rows);
            assert_eq!(r.passes, fresh.len());
            assert!((r.modelled_speedup - 1.0).abs() < 1e-9, "{r:?}");
        }
    }

    #[test]
    fn the_replay_measures_against_the_steps_plain_greedy_takes() {
        // Same passes; against one-row steps (10 ms) they gain less than against two-row ones (11 ms).
        let prompt: Vec<u32> = (10..40).collect();
        let cost = [(1, 10.0), (2, 11.0), (9, 18.0)];
        let run = |step_rows| replay("p", &prompt, &prompt, Strategy::Linear { model: false }, None, &NgramConfig::default(), &cost, step_rows);
        let (one, two) = (run(1), run(2));
        assert_eq!(one.passes, two.passes);
        assert!(one.modelled_speedup < two.modelled_speedup, "{one:?} {two:?}");
    }
}
