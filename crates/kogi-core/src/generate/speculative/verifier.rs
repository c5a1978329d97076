//! Checking drafted tokens against the model: after one pass over `[next, draft…]`, the model's
//! greedy pick at each position says what it would have generated there.

/// How many drafted tokens greedy decoding would have produced itself: the drafts agree with the
/// model's picks up to the first disagreement (`picks[i]` is the pick after the i-th fed token, so
/// `picks[accepted]` is the model's own next token after the accepted ones).
pub fn accepted(draft: &[u32], picks: &[u32]) -> usize {
    draft.iter().zip(picks).take_while(|(d, p)| d == p).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_are_kept_up_to_the_first_disagreement_only() {
        assert_eq!(accepted(&[5, 6, 7], &[5, 6, 7, 8]), 3);
        assert_eq!(accepted(&[5, 9, 7], &[5, 6, 7, 8]), 1);
        assert_eq!(accepted(&[4, 6], &[5, 6, 7]), 0);
        assert_eq!(accepted(&[], &[5]), 0);
    }
}
