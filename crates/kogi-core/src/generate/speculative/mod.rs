//! Speculative decoding with learning-free n-gram drafts (prompt lookup): the [`proposer`] drafts
//! tokens that followed the same n-gram earlier in the prompt or the answer, the model scores them
//! all in one pass, and the [`verifier`] keeps the drafts that agree with the model's own greedy
//! picks — so the output is plain greedy decoding's, token for token.

pub mod bigram;
pub mod proposer;
pub mod verifier;

pub use bigram::BigramTable;
pub use proposer::{DraftStats, Fill, NgramConfig, NgramDrafter};
