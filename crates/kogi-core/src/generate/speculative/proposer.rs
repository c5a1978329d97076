//! Learning-free drafts for speculative decoding ("prompt lookup decoding").
//!
//! Answers about a lecture quote the retrieved passages and repeat their own phrases, so the tokens
//! that followed an earlier occurrence of the current suffix are a cheap and often right guess at
//! what comes next. The model checks the whole draft in one forward pass and keeps the longest prefix
//! it agrees with; a wrong draft costs only that pass's extra width, never correctness.
//!
//! Contract with the decoder: the drafter's sequence holds only *committed* tokens. Feed it the
//! prompt with [`NgramDrafter::extend`], then after each verification append exactly the tokens the
//! model kept (the accepted draft prefix plus the token the model produced itself). Rejected draft
//! tokens are never appended, so the index never needs rollback or deletion.

use super::bigram::BigramTable;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Draft tokens allowed per matched token (see [`NgramDrafter::draft`]).
pub const DRAFT_PER_MATCHED: usize = 2;

/// Drafts this long or longer are lengthened to fill their verification pass ([`NgramDrafter::with_fill`]):
/// shorter ones come from a falling acceptance or a short match, where a longer draft is mostly wasted.
pub const FILL_FROM: usize = 4;

/// The most rows a verification pass could have at about the cost of a pass of `rows` ([`NgramDrafter::with_fill`]).
pub type Fill = Arc<dyn Fn(usize) -> usize + Send + Sync>;

/// Suffix lengths to look up and draft lengths to adapt between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NgramConfig {
    /// Longest suffix looked up (tried first: a longer match is a more reliable predictor).
    pub max_n: usize,
    /// Shortest suffix looked up.
    pub min_n: usize,
    /// Most tokens drafted per step.
    pub max_k: usize,
    /// Fewest tokens drafted per step (when a match exists).
    pub min_k: usize,
    /// Most tokens drafted from the model's own bigram table ([`BigramTable`]) when the context has
    /// no match; 0 drafts from the context only.
    pub model_k: usize,
}

impl Default for NgramConfig {
    fn default() -> Self {
        // Suffixes up to 12 tokens: a Japanese character is one to three byte-level tokens, so a
        // 4-token suffix is a character or two and matches the wrong place in a 2,000-token prompt
        // (dev questions: 3.37 → 3.61 tokens a pass with drafts up to 16).
        Self { max_n: 12, min_n: 1, max_k: 16, min_k: 1, model_k: 4 }
    }
}

impl NgramConfig {
    pub fn validate(&self) -> Result<()> {
        let Self { max_n, min_n, max_k, min_k, .. } = *self;
        if min_n == 0 || min_n > max_n {
            return Err(Error::Invalid(format!("n-gram lengths need 1 ≤ min_n ≤ max_n, got min_n {min_n}, max_n {max_n}")));
        }
        if min_k == 0 || min_k > max_k {
            return Err(Error::Invalid(format!("draft lengths need 1 ≤ min_k ≤ max_k, got min_k {min_k}, max_k {max_k}")));
        }
        Ok(())
    }

    /// The nearest valid configuration: bounds raised to 1 and each maximum to at least its minimum.
    fn sanitised(&self) -> Self {
        let min_n = self.min_n.max(1);
        let min_k = self.min_k.max(1);
        Self { min_n, max_n: self.max_n.max(min_n), min_k, max_k: self.max_k.max(min_k), model_k: self.model_k }
    }
}

/// Totals over every verification of a non-empty draft.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DraftStats {
    pub drafted: usize,
    pub accepted: usize,
    pub verifications: usize,
    /// Of the above, what the model's bigram table drafted and what of it was kept.
    pub model_drafted: usize,
    pub model_accepted: usize,
}

impl DraftStats {
    /// Accepted share of all drafted tokens; 0 before anything was drafted.
    pub fn acceptance_rate(&self) -> f64 {
        if self.drafted == 0 { 0.0 } else { self.accepted as f64 / self.drafted as f64 }
    }
}

/// Weight of the newest verification in the acceptance average: about the last three verifications
/// dominate, so K follows the switch between quoting a passage and writing freely within a few steps.
const EMA_WEIGHT: f64 = 0.5;
/// Above this average acceptance K grows by one (doubles after a context draft of full length kept
/// whole: long quotes reach their width in a few passes); below [`SHRINK_BELOW`] it halves. Growing
/// slowly and shrinking fast (AIMD) keeps wasted verification width small when drafts stop matching.
const GROW_ABOVE: f64 = 0.7;
const SHRINK_BELOW: f64 = 0.3;

/// Drafts continuations by looking the sequence's suffix up earlier in the sequence, and adapts how
/// many tokens to draft to how many the model has been accepting.
#[derive(Clone)]
pub struct NgramDrafter {
    cfg: NgramConfig,
    k: usize,
    acceptance_ema: f64,
    stats: DraftStats,
    tokens: Vec<u32>,
    /// Every n-gram (min_n ≤ n ≤ max_n) that is already followed by a token → its most recent start.
    /// Only followed occurrences are indexed, so looking up the current suffix finds an *earlier*
    /// occurrence, never the suffix itself. Keys of different lengths never compare equal, so one map
    /// serves all n; exact keys (not hashes) mean no collision can return a wrong match.
    index: HashMap<Box<[u32]>, usize>,
    /// The model's own next tokens, drafted from when the context has no match.
    table: Option<Arc<BigramTable>>,
    /// Current model-draft length and its acceptance average (adapted as K is, separately: the
    /// table is right far less often than a copied passage).
    model_k: usize,
    model_ema: f64,
    /// Where the last proposal came from (what [`Self::observe`] attributes to).
    last_from_model: bool,
    /// What one drafted row adds to a pass, in plain steps ([`Self::with_row_cost`]).
    row_cost: f64,
    /// Draftless passes left before model drafts are tried again while they do not pay.
    model_rest: usize,
    fill: Option<Fill>,
}

/// While model drafts do not pay, one draftless pass in this many tries one anyway, so the
/// average can recover when the answer turns predictable.
const MODEL_PROBE_EVERY: usize = 8;

impl std::fmt::Debug for NgramDrafter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NgramDrafter")
            .field("cfg", &self.cfg)
            .field("k", &self.k)
            .field("acceptance_ema", &self.acceptance_ema)
            .field("stats", &self.stats)
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

impl NgramDrafter {
    /// A drafter starting at K = `max_k` (drafts are cheap to check until shown otherwise). An invalid
    /// `cfg` is corrected to the nearest valid one; use [`NgramConfig::validate`] to report it instead.
    pub fn new(cfg: NgramConfig) -> Self {
        let cfg = cfg.sanitised();
        Self {
            k: cfg.max_k,
            model_k: cfg.model_k,
            cfg,
            acceptance_ema: 0.5,
            stats: DraftStats::default(),
            tokens: Vec::new(),
            index: HashMap::new(),
            table: None,
            model_ema: 0.5,
            last_from_model: false,
            row_cost: 0.0,
            model_rest: 0,
            fill: None,
        }
    }

    /// Lengthen context drafts of at least [`FILL_FROM`] tokens to the most rows `fill(rows)` says a
    /// verification pass takes at about the same cost (kogi's attention kernel scores rows in sets
    /// of vector lanes: a draft of 16 makes SmolLM2's seventeenth row open a set that 20 would fill).
    /// Past K, but never past what the match predicts (twice its length).
    pub fn with_fill(mut self, fill: Option<Fill>) -> Self {
        self.fill = fill;
        self
    }

    /// `cost`: what one drafted row adds to a verification pass, as a share of a plain step's time.
    /// Where a plain step is one row (kogi's CPU kernels) a pass of two costs about 1.3 steps, so a
    /// model draft pays only while more than that share of its tokens are kept; where exact steps
    /// feed two rows anyway (0, the default) a one-token draft rides along for free.
    pub fn with_row_cost(mut self, cost: f64) -> Self {
        self.row_cost = cost.max(0.0);
        self
    }

    /// Draft from `table` too when the context offers nothing (see [`Self::propose`]).
    pub fn with_table(mut self, table: Option<Arc<BigramTable>>) -> Self {
        self.table = table.filter(|_| self.cfg.model_k > 0);
        self
    }

    /// The draft for the next verification: what followed an earlier occurrence of the suffix
    /// ([`Self::draft_next`]); without one, a chain of the model's own first choices after the last
    /// token, while those pay ([`Self::with_row_cost`]). Drafts of different sources are adapted
    /// separately by [`Self::observe`].
    pub fn propose(&mut self) -> Vec<u32> {
        let draft = self.draft_next();
        self.last_from_model = false;
        if !draft.is_empty() {
            return draft;
        }
        // Model drafts whose kept share is below what their rows cost wait, but for a probe now and then.
        // (At no cost nothing waits, even after an average worn down to zero.)
        if self.row_cost > 0.0 && self.model_ema <= self.row_cost {
            if self.model_rest > 0 {
                self.model_rest -= 1;
                return draft;
            }
            self.model_rest = MODEL_PROBE_EVERY - 1;
        }
        match (&self.table, self.tokens.last()) {
            (Some(t), Some(&last)) => {
                self.last_from_model = true;
                t.chain(last, self.model_k)
            }
            _ => draft,
        }
    }

    pub fn config(&self) -> &NgramConfig {
        &self.cfg
    }

    /// Current draft length.
    pub fn k(&self) -> usize {
        self.k
    }

    pub fn stats(&self) -> DraftStats {
        self.stats
    }

    /// The committed sequence the index covers.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Forget the sequence (a new prompt begins). K and the statistics carry over: the next answer from
    /// the same model tends to quote as much as the last one.
    pub fn clear(&mut self) {
        self.tokens.clear();
        self.index.clear();
    }

    /// Append committed tokens (see the module docs: never rejected draft tokens), updating the index
    /// in O(max_n) per token.
    pub fn extend(&mut self, new_tokens: &[u32]) {
        self.tokens.reserve(new_tokens.len());
        for &token in new_tokens {
            self.tokens.push(token);
            // The new token is the first follower of each n-gram ending just before it.
            let end = self.tokens.len() - 1;
            for n in self.cfg.min_n..=self.cfg.max_n.min(end) {
                let start = end - n;
                let gram = &self.tokens[start..end];
                match self.index.get_mut(gram) {
                    Some(last) => *last = start,
                    None => {
                        self.index.insert(gram.into(), start);
                    }
                }
            }
        }
    }

    /// [`Self::draft`] of the sequence built with [`Self::extend`], in O(max_n) lookups.
    pub fn draft_next(&self) -> Vec<u32> {
        let len = self.tokens.len();
        for n in (self.cfg.min_n..=self.cfg.max_n.min(len)).rev() {
            if let Some(&start) = self.index.get(&self.tokens[len - n..]) {
                return self.continuation(&self.tokens, start + n, n);
            }
        }
        Vec::new()
    }

    /// Every different continuation [`Self::draft_next`] could take: one per suffix length that
    /// matches, longest first, repeats left out (candidates for drafts verified together).
    pub fn drafts_by_length(&self) -> Vec<Vec<u32>> {
        let len = self.tokens.len();
        let mut out: Vec<Vec<u32>> = Vec::new();
        for n in (self.cfg.min_n..=self.cfg.max_n.min(len)).rev() {
            if let Some(&start) = self.index.get(&self.tokens[len - n..]) {
                let c = self.continuation(&self.tokens, start + n, n);
                if !c.is_empty() && !out.iter().any(|o| o.starts_with(&c) || c.starts_with(o)) {
                    out.push(c);
                }
            }
        }
        out
    }

    /// Look up the last n tokens of `tokens` (prompt + generated so far), n from max_n down to min_n,
    /// at an earlier position of `tokens`; return up to [`Self::k`] tokens that followed the most recent
    /// earlier match, preferring the longest n. Empty when nothing matches. A plain scan, independent of
    /// the index: O(len · max_n).
    pub fn draft(&self, tokens: &[u32]) -> Vec<u32> {
        let len = tokens.len();
        for n in (self.cfg.min_n..=self.cfg.max_n.min(len)).rev() {
            let suffix = &tokens[len - n..];
            // Windows of all but the last token start before the suffix and are each followed by a token.
            if let Some(start) = tokens[..len - 1].windows(n).rposition(|w| w == suffix) {
                return self.continuation(tokens, start + n, n);
            }
        }
        Vec::new()
    }

    /// Up to K tokens after `from`, and at most `DRAFT_PER_MATCHED * n` of them: a short match
    /// predicts only a little way ahead, and every drafted token costs a row in the verifying pass.
    fn continuation(&self, tokens: &[u32], from: usize, n: usize) -> Vec<u32> {
        let mut k = self.k.min(DRAFT_PER_MATCHED * n);
        if let Some(fill) = self.fill.as_ref().filter(|_| k >= FILL_FROM) {
            // The verifying pass has the drafts and the token before them.
            k = (fill(k + 1) - 1).clamp(k, DRAFT_PER_MATCHED * n);
        }
        tokens[from..tokens.len().min(from + k)].to_vec()
    }

    /// Record a verification in which `accepted` of `drafted` tokens were kept, and adapt K: an
    /// exponential moving average of the acceptance ratio above [`GROW_ABOVE`] adds one (up to max_k),
    /// below [`SHRINK_BELOW`] halves K (down to min_k). A step with nothing drafted says nothing about
    /// draft quality and is ignored.
    pub fn observe(&mut self, drafted: usize, accepted: usize) {
        if drafted == 0 {
            return;
        }
        let accepted = accepted.min(drafted);
        self.stats.drafted += drafted;
        self.stats.accepted += accepted;
        self.stats.verifications += 1;
        let ratio = accepted as f64 / drafted as f64;
        if std::mem::take(&mut self.last_from_model) {
            self.stats.model_drafted += drafted;
            self.stats.model_accepted += accepted;
            adapt(&mut self.model_ema, &mut self.model_k, ratio, 1, self.cfg.model_k, false);
        } else {
            let whole = accepted == drafted && drafted >= self.k;
            adapt(&mut self.acceptance_ema, &mut self.k, ratio, self.cfg.min_k, self.cfg.max_k, whole);
        }
    }
}

/// Fold `ratio` into the acceptance average `ema`, then grow `k` by one (by itself if the draft was
/// `whole`: `k` tokens, all kept; up to `max`) above [`GROW_ABOVE`] or halve it (down to `min`) below
/// [`SHRINK_BELOW`]. On the dev questions doubling gave 7–15% more tokens a pass and ~2% more speed.
fn adapt(ema: &mut f64, k: &mut usize, ratio: f64, min: usize, max: usize, whole: bool) {
    *ema = EMA_WEIGHT * ratio + (1.0 - EMA_WEIGHT) * *ema;
    if *ema > GROW_ABOVE {
        *k = (if whole { *k * 2 } else { *k + 1 }).min(max);
    } else if *ema < SHRINK_BELOW {
        *k = (*k / 2).max(min);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drafter(max_n: usize, min_n: usize, max_k: usize) -> NgramDrafter {
        NgramDrafter::new(NgramConfig { max_n, min_n, max_k, min_k: 1, model_k: 0 })
    }

    /// Both lookups, which must agree.
    fn both(d: &NgramDrafter, tokens: &[u32]) -> Vec<u32> {
        let mut incremental = NgramDrafter::new(d.config().clone());
        incremental.k = d.k;
        incremental.extend(tokens);
        let stateless = d.draft(tokens);
        assert_eq!(incremental.draft_next(), stateless, "tokens {tokens:?}");
        stateless
    }

    #[test]
    fn drafts_copy_what_followed_an_earlier_occurrence() {
        let d = drafter(4, 1, 3);
        assert_eq!(both(&d, &[10, 11, 12, 13, 14, 15, 20, 11, 12]), vec![13, 14, 15]);
        // The continuation may run up to the end of the sequence, suffix included.
        let d = drafter(4, 1, 8);
        assert_eq!(both(&d, &[10, 11, 12, 13, 20, 11, 12]), vec![13, 20, 11, 12]);
    }

    #[test]
    fn the_longest_matching_suffix_is_preferred() {
        // [1, 2] occurred at 0 (then 3); [2] occurred more recently at 4 (then 4).
        let d = drafter(4, 1, 2);
        assert_eq!(both(&d, &[1, 2, 3, 7, 2, 4, 1, 2]), vec![3, 7]);
        // Limiting n to 1 falls back to the single-token match.
        let d = drafter(1, 1, 2);
        assert_eq!(both(&d, &[1, 2, 3, 7, 2, 4, 1, 2]), vec![4, 1]);
    }

    #[test]
    fn among_equal_lengths_the_most_recent_occurrence_is_preferred() {
        let d = drafter(2, 1, 8);
        assert_eq!(both(&d, &[1, 2, 3, 1, 2, 4, 1, 2]), vec![4, 1, 2]);
        // Overlapping occurrences count too: in a run, the most recent earlier one is one step back.
        assert_eq!(both(&d, &[5, 5, 5, 5]), vec![5]);
    }

    #[test]
    fn no_match_gives_an_empty_draft() {
        let d = drafter(4, 1, 8);
        for tokens in [&[][..], &[1], &[1, 2, 3, 4], &[1, 2, 3, 2, 1, 4]] {
            assert!(both(&d, tokens).is_empty(), "{tokens:?}");
        }
        // A single-token match does not count when min_n is 2.
        let d = drafter(4, 2, 8);
        assert!(both(&d, &[1, 9, 2, 3, 1]).is_empty());
        assert_eq!(both(&d, &[1, 9, 2, 3, 1, 9]), vec![2, 3, 1, 9]);
    }

    #[test]
    fn drafts_of_four_or_more_fill_their_pass_but_stay_within_twice_the_match() {
        // Lane sets of sixteen, three heads a row: a pass of 17 rows costs its sets as one of 21.
        let fill = |rows: usize| if rows <= 2 { rows } else { (rows * 3).div_ceil(16) * 16 / 3 };
        let filled = |max_k: usize, tokens: &[u32]| {
            let mut d = drafter(12, 1, max_k).with_fill(Some(Arc::new(fill)));
            d.extend(tokens);
            d.draft_next().len()
        };
        let long: Vec<u32> = (0..40).chain(0..12).collect();
        assert_eq!(filled(16, &long), 20);
        assert_eq!(filled(8, &long), 9);
        assert_eq!(filled(4, &long), 4, "five rows fill a set already");
        assert_eq!(filled(3, &long), 3, "short drafts stay as they are");
        assert_eq!(filled(2, &long), 2);
        // A match of three tokens predicts six at most, filled or not.
        let short: Vec<u32> = (0..40).chain([100, 1, 2, 3]).collect();
        assert_eq!(filled(16, &short), 6);
        // No more than the sequence holds after the match.
        let end: Vec<u32> = (0..20).chain(100..112).chain(0..12).collect();
        assert_eq!(filled(16, &end), 20);
        let end: Vec<u32> = (0..12).chain(100..118).chain(0..12).collect();
        assert_eq!(filled(16, &end), 20);
        let near: Vec<u32> = (0..12).chain(100..105).chain(0..12).collect();
        assert_eq!(filled(16, &near), 17, "the five tokens after the match, then the match itself again");
        // Without a fill rule K alone decides.
        let mut d = drafter(12, 1, 16);
        d.extend(&long);
        assert_eq!(d.draft_next().len(), 16);
    }

    #[test]
    fn a_draft_is_never_longer_than_k() {
        let tokens: Vec<u32> = (0..50).chain(0..50).collect();
        for k in 1..=8 {
            let d = drafter(4, 1, k);
            assert_eq!(both(&d, &tokens).len(), k);
        }
        // Shrinking K shortens the next draft.
        let mut d = drafter(4, 1, 8);
        d.extend(&tokens[..60]);
        assert_eq!(d.draft_next().len(), 8);
        d.observe(8, 0);
        d.observe(8, 0);
        assert!(d.k() < 8);
        assert_eq!(d.draft_next().len(), d.k());
    }

    #[test]
    fn k_shrinks_on_rejection_and_grows_on_acceptance_within_bounds() {
        let mut d = NgramDrafter::new(NgramConfig { max_n: 4, min_n: 1, max_k: 8, min_k: 2, model_k: 0 });
        assert_eq!(d.k(), 8);
        let mut last = d.k();
        for _ in 0..20 {
            d.observe(d.k(), 0);
            assert!(d.k() <= last && d.k() >= 2);
            last = d.k();
        }
        assert_eq!(d.k(), 2);
        // With acceptance high, drafts kept whole double K; drafts kept but short of K add one.
        d.acceptance_ema = 1.0;
        d.observe(2, 2);
        assert_eq!(d.k(), 4);
        d.observe(3, 3);
        assert_eq!(d.k(), 5);
        last = d.k();
        for _ in 0..20 {
            d.observe(d.k(), d.k());
            assert!(d.k() >= last && d.k() <= 8);
            last = d.k();
        }
        assert_eq!(d.k(), 8);
        // Mixed results around one half leave K where it is.
        let before = d.k();
        d.acceptance_ema = 0.5;
        d.observe(4, 2);
        assert_eq!(d.k(), before);
    }

    #[test]
    fn stats_total_the_verifications_of_non_empty_drafts() {
        let mut d = NgramDrafter::new(NgramConfig::default());
        assert_eq!(d.stats().acceptance_rate(), 0.0);
        d.observe(0, 0);
        d.observe(8, 6);
        d.observe(4, 9); // more accepted than drafted is clamped
        assert_eq!(d.stats(), DraftStats { drafted: 12, accepted: 10, verifications: 2, ..Default::default() });
        assert!((d.stats().acceptance_rate() - 10.0 / 12.0).abs() < 1e-12);
    }

    #[test]
    fn without_a_context_match_the_models_own_bigrams_draft_and_adapt_apart() {
        let dir = tempfile::tempdir().unwrap();
        // After 5 the model would say 6, then 7; after 7, 8.
        let mut rows = vec![[0u32; super::super::bigram::WIDTH]; 10];
        rows[5][0] = 6;
        rows[6][0] = 7;
        rows[7][0] = 8;
        rows[8][0] = 5;
        super::super::bigram::tests_support::save(dir.path(), &rows);
        let table = BigramTable::load(dir.path()).unwrap().map(Arc::new);
        let mut d = NgramDrafter::new(NgramConfig {
            model_k: 3,
            ..NgramConfig::default()
        })
        .with_table(table.clone());
        d.extend(&[1, 2, 3, 5]);
        assert_eq!(d.propose(), vec![6, 7, 8]);
        d.observe(3, 0);
        // Model drafts shrink on their own; the context's K is untouched.
        assert_eq!(d.propose(), vec![6]);
        d.observe(1, 0);
        assert_eq!(d.k(), NgramConfig::default().max_k);
        assert_eq!(
            (
                d.stats().model_drafted,
                d.stats().model_accepted,
                d.stats().drafted
            ),
            (4, 0, 4)
        );
        // A context match takes precedence.
        d.extend(&[6, 1, 2]);
        assert_eq!(d.propose(), vec![3, 5, 6, 1]);
        // No table, or model drafts off: context only.
        let mut off = NgramDrafter::new(NgramConfig {
            model_k: 0,
            ..NgramConfig::default()
        })
        .with_table(table);
        off.extend(&[1, 2, 3, 5]);
        assert!(off.propose().is_empty());
    }

    #[test]
    fn model_drafts_that_do_not_pay_for_their_rows_pause_and_are_probed_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows = vec![[0u32; super::super::bigram::WIDTH]; 10];
        rows[5][0] = 6;
        super::super::bigram::tests_support::save(dir.path(), &rows);
        let table = BigramTable::load(dir.path()).unwrap().map(Arc::new);
        let mut d = NgramDrafter::new(NgramConfig { model_k: 1, ..NgramConfig::default() }).with_table(table.clone()).with_row_cost(0.3);
        d.extend(&[1, 2, 3, 5]);
        // Rejected twice: the kept share (0.5 → 0.25 → 0.125) falls below the row's cost.
        for _ in 0..2 {
            assert_eq!(d.propose(), vec![6]);
            d.observe(1, 0);
        }
        let offered: Vec<usize> = (0..MODEL_PROBE_EVERY * 2).filter(|_| !d.propose().is_empty()).collect();
        assert_eq!(offered.len(), 2, "one probe per {MODEL_PROBE_EVERY} passes: {offered:?}");
        // A kept probe brings them back.
        let probe = (0..MODEL_PROBE_EVERY).map(|_| d.propose()).find(|p| !p.is_empty());
        assert_eq!(probe, Some(vec![6]));
        d.observe(1, 1);
        assert!((0..3).all(|_| d.propose() == vec![6]));
        // At no cost (two-row steps) they never pause.
        let mut free = NgramDrafter::new(NgramConfig { model_k: 1, ..NgramConfig::default() }).with_table(table);
        free.extend(&[1, 2, 3, 5]);
        for _ in 0..10 {
            assert_eq!(free.propose(), vec![6]);
            free.observe(1, 0);
        }
    }

    #[test]
    fn every_matching_suffix_length_offers_its_own_continuation() {
        // [1, 2] last occurred at 0 (then 3, 4); [2] alone more recently at 5 (then 9).
        let mut d = drafter(2, 1, 2);
        d.extend(&[1, 2, 3, 4, 7, 2, 9, 1, 2]);
        assert_eq!(d.drafts_by_length(), vec![vec![3, 4], vec![9, 1]]);
        // Where the lengths agree, one continuation.
        let mut d = drafter(2, 1, 2);
        d.extend(&[1, 2, 3, 4, 1, 2]);
        assert_eq!(d.drafts_by_length(), vec![vec![3, 4]]);
        assert_eq!(d.drafts_by_length()[0], d.draft_next());
    }

    #[test]
    fn clear_forgets_the_sequence_but_keeps_k() {
        let mut d = drafter(2, 1, 8);
        d.extend(&[1, 2, 3, 1, 2]);
        assert_eq!(d.draft_next(), vec![3, 1, 2]);
        d.observe(3, 0);
        d.observe(3, 0);
        let k = d.k();
        d.clear();
        assert!(d.tokens().is_empty() && d.draft_next().is_empty());
        d.extend(&[7, 1, 2]);
        assert!(d.draft_next().is_empty());
        assert_eq!(d.k(), k);
    }

    #[test]
    fn config_validation_and_sanitising() {
        NgramConfig::default().validate().unwrap();
        for bad in [
            NgramConfig { min_n: 0, ..NgramConfig::default() },
            NgramConfig { min_n: 5, max_n: 4, ..NgramConfig::default() },
            NgramConfig { min_k: 0, ..NgramConfig::default() },
            NgramConfig { min_k: 9, max_k: 8, ..NgramConfig::default() },
        ] {
            assert!(matches!(bad.validate(), Err(Error::Invalid(_))), "{bad:?}");
            let d = NgramDrafter::new(bad);
            d.config().validate().unwrap();
        }
        let partial: NgramConfig = serde_json::from_str(r#"{"max_k": 5}"#).unwrap();
        assert_eq!(partial, NgramConfig { max_k: 5, ..NgramConfig::default() });
    }

    proptest! {
        #[test]
        fn incremental_index_equals_the_stateless_scan(
            tokens in prop::collection::vec(0u32..4, 0..200),
            chunks in prop::collection::vec(1usize..6, 1..80),
            max_n in 1usize..6,
            min_n in 1usize..6,
            max_k in 1usize..10,
            observations in prop::collection::vec((0usize..10, 0usize..10), 0..80),
        ) {
            let min_n = min_n.min(max_n);
            let mut d = NgramDrafter::new(NgramConfig { max_n, min_n, max_k, min_k: 1, model_k: 0 });
            let mut fed = 0;
            for (i, &chunk) in chunks.iter().cycle().enumerate() {
                let end = (fed + chunk).min(tokens.len());
                d.extend(&tokens[fed..end]);
                fed = end;
                prop_assert_eq!(d.tokens(), &tokens[..fed]);
                let draft = d.draft_next();
                prop_assert_eq!(&draft, &d.draft(&tokens[..fed]));
                prop_assert!(draft.len() <= d.k());
                // Vary K along the way, as the decoder would.
                if let Some(&(drafted, accepted)) = observations.get(i) {
                    d.observe(drafted, accepted);
                }
                if fed == tokens.len() {
                    break;
                }
            }
        }

        #[test]
        fn a_draft_is_what_followed_an_earlier_occurrence_of_a_suffix(
            tokens in prop::collection::vec(0u32..3, 0..100),
            max_n in 1usize..5,
        ) {
            let d = drafter(max_n, 1, 8);
            let draft = d.draft(&tokens);
            if !draft.is_empty() {
                // Some n and earlier start reproduce it.
                let len = tokens.len();
                let found = (1..=max_n.min(len)).any(|n| {
                    (0..len - n).any(|s| tokens[s..s + n] == tokens[len - n..]
                        && tokens[s + n..].starts_with(&draft))
                });
                prop_assert!(found);
            } else if !tokens.is_empty() {
                // Empty only if even the last token never occurred before.
                let last = tokens[tokens.len() - 1];
                prop_assert!(!tokens[..tokens.len() - 1].contains(&last));
            }
        }
    }
}
