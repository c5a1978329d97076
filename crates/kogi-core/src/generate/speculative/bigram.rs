//! Drafts from the model itself (the N-Grammys paper's "model bigrams"): for every token, the
//! model's own most likely next tokens after it, at the start of a reply ([`prefix`]). Computed once
//! per model ([`BigramTable::build`], by `kogi models drafts`; set-up does the default model) and
//! kept beside it in [`FILE`]. Where the prompt and the answer offer no n-gram to copy — an open question, free
//! prose — chaining the table's first choices still drafts tokens the model often agrees with
//! (function words, the rest of a word split into pieces, punctuation).

use crate::{Error, Result};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// The table's file in the model's folder.
pub const FILE: &str = "draft_bigrams.safetensors";
/// Next tokens kept per token (the first is what chains draft; the rest are for several drafts).
pub const WIDTH: usize = 4;
/// Tokens run per pass while the table is built.
const ROWS_PER_PASS: usize = 256;

/// `top[t * width + i]`: the model's i-th choice after token `t` (following [`prefix`]).
#[derive(Debug, Clone, PartialEq)]
pub struct BigramTable {
    top: Vec<u32>,
    width: usize,
}

fn bad(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::BadModelFile {
        path: path.to_owned(),
        message: format!("{message} — rebuild it with `kogi models drafts`"),
    }
}

impl BigramTable {
    /// Rows in the table (tokens covered: ids `0..len`).
    pub fn len(&self) -> usize {
        self.top.len() / self.width
    }

    pub fn is_empty(&self) -> bool {
        self.top.is_empty()
    }

    /// The model's choices after `token`, best first (empty for a token past the table).
    pub fn next(&self, token: u32) -> &[u32] {
        let t = token as usize;
        if t >= self.len() {
            &[]
        } else {
            &self.top[t * self.width..(t + 1) * self.width]
        }
    }

    /// Up to `k` tokens following `from` by the first choice each time; stops at a token the table
    /// does not cover, or when it comes back to a token it drafted (a loop drafts nothing new).
    pub fn chain(&self, from: u32, k: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(k);
        let mut at = from;
        while out.len() < k {
            let Some(&t) = self.next(at).first() else {
                break;
            };
            if out.contains(&t) {
                break;
            }
            out.push(t);
            at = t;
        }
        out
    }

    /// Run the model on every token id in `0..limit` after [`prefix`]'s tokens (computed once and
    /// shared by [`ROWS_PER_PASS`] rows a pass) and keep its top [`WIDTH`] next tokens. A token at
    /// position 0 alone tells the model nothing (SmolLM2 answers "-" after every one), so the
    /// table is taken where an answer is being written. `on_progress(done, of)`; `cancel` is
    /// checked between passes.
    pub fn build(
        lm: &mut crate::generate::onnx::LanguageModel,
        limit: usize,
        on_progress: &mut dyn FnMut(usize, usize),
        cancel: &AtomicBool,
    ) -> Result<Self> {
        let vocab = lm.decoder.info.vocab;
        let n = limit.min(vocab);
        let prefix = prefix(lm)?;
        let mut shared = lm.decoder.new_cache(1, prefix.len() + 1)?;
        lm.decoder.prefill(&mut shared, &prefix, usize::MAX)?;
        let mut top = Vec::with_capacity(n * WIDTH);
        let mut start = 0;
        while start < n {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let end = (start + ROWS_PER_PASS).min(n);
            let ids: Vec<u32> = (start as u32..end as u32).collect();
            let mut cache = lm.decoder.fork(&shared, ids.len())?;
            let logits = lm.decoder.forward(&mut cache, &ids, 1)?;
            for row in logits.chunks_exact(vocab) {
                top.extend(top_k(row, WIDTH));
            }
            start = end;
            on_progress(start, n);
        }
        Ok(Self { top, width: WIDTH })
    }

    /// The table in `dir`, if one was built for the model there.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::Io {
                    path,
                    message: e.to_string(),
                });
            }
        };
        let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(&path, e))?;
        let t = st.tensor("top").map_err(|e| bad(&path, e))?;
        let &[rows, width] = t.shape() else {
            return Err(bad(&path, "the table is not two-dimensional"));
        };
        if t.dtype() != Dtype::U32 || width == 0 {
            return Err(bad(
                &path,
                format!("the table is {:?} × {width}, not u32", t.dtype()),
            ));
        }
        let top: Vec<u32> = t
            .data()
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        debug_assert_eq!(top.len(), rows * width);
        Ok(Some(Self { top, width }))
    }

    /// Write the table into `dir` (through a temporary file: a half-written table is never read).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(FILE);
        let bytes: Vec<u8> = self.top.iter().flat_map(|t| t.to_le_bytes()).collect();
        let view =
            safetensors::tensor::TensorView::new(Dtype::U32, vec![self.len(), self.width], &bytes)
                .map_err(|e| Error::Runtime(e.to_string()))?;
        let meta = HashMap::from([(
            "what".to_owned(),
            "kogi draft bigrams: the model's top next tokens after each token, at the start of a reply".to_owned(),
        )]);
        let data = safetensors::serialize([("top", view)], Some(meta))
            .map_err(|e| Error::Runtime(e.to_string()))?;
        let io = |e: std::io::Error| crate::model::convert::write_error(&path, e);
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, &data).map_err(io)?;
        // Readable like the model's other files (a temporary file starts private).
        tmp.as_file()
            .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

/// What every row of the table starts with: the model's chat template around a request for prose,
/// and the start of the reply.
pub fn prefix(lm: &crate::generate::onnx::LanguageModel) -> Result<Vec<u32>> {
    use crate::generate::chat::Message;
    let mut ids = lm.encode_chat(&[Message::user("Write a few paragraphs.")])?;
    ids.extend(lm.tokenizer.encode("Here they are.\n\n")?);
    Ok(ids)
}

/// Indices of the `k` largest values, largest first (ties: the lower index).
fn top_k(row: &[f32], k: usize) -> Vec<u32> {
    let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
    for (i, &v) in row.iter().enumerate() {
        if best.len() == k && v <= best[k - 1].0 {
            continue;
        }
        let at = best.partition_point(|&(b, _)| b >= v);
        best.insert(at, (v, i as u32));
        best.truncate(k);
    }
    best.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
pub(super) mod tests_support {
    /// Save a table of the given rows (for the drafter's tests).
    pub fn save(dir: &std::path::Path, rows: &[[u32; super::WIDTH]]) {
        super::BigramTable {
            top: rows.iter().flatten().copied().collect(),
            width: super::WIDTH,
        }
        .save(dir)
        .unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[[u32; 2]]) -> BigramTable {
        BigramTable {
            top: rows.iter().flatten().copied().collect(),
            width: 2,
        }
    }

    #[test]
    fn top_k_orders_the_largest_first_and_keeps_the_lower_index_on_ties() {
        assert_eq!(top_k(&[0.1, 3.0, -1.0, 3.0, 2.0], 3), vec![1, 3, 4]);
        assert_eq!(top_k(&[1.0, 2.0], 4), vec![1, 0]);
    }

    #[test]
    fn a_chain_follows_first_choices_and_stops_at_a_loop_or_the_table_end() {
        // 0 → 1 → 2 → 1 (loop); 3 → 9 (past the table).
        let t = table(&[[1, 2], [2, 0], [1, 3], [9, 0]]);
        assert_eq!(t.chain(0, 8), vec![1, 2]);
        assert_eq!(t.chain(0, 1), vec![1]);
        assert_eq!(t.chain(3, 8), vec![9]);
        assert!(t.chain(7, 8).is_empty());
        assert_eq!(t.next(2), &[1, 3]);
    }

    #[test]
    fn a_saved_table_loads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        assert!(BigramTable::load(dir.path()).unwrap().is_none());
        let t = table(&[[1, 2], [2, 0], [70_000, 3]]);
        t.save(dir.path()).unwrap();
        assert_eq!(BigramTable::load(dir.path()).unwrap(), Some(t));
        std::fs::write(dir.path().join(FILE), b"not a table").unwrap();
        assert!(matches!(
            BigramTable::load(dir.path()),
            Err(Error::BadModelFile { .. })
        ));
    }
}
