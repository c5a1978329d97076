use crate::lecture::LectureId;
use crate::store::{ChunkRow, Db, SearchFilter, Which};
use crate::{Error, Result};

/// All chunk vectors of the searchable revisions in one row-major matrix: exact top-k by dot product
/// (vectors are L2-normalised, so this is cosine). A lecture has ~10³ chunks; exact search over 10⁵
/// is a few milliseconds, and exact means no recall lost to an approximate index.
///
/// A chunk is scored by what it hands to the model: when its context holds neighbouring chunks (a
/// sentence window), its score is the mean of their similarities weighted by a triangle centred on its
/// own sentence (1 there, falling to 0 just past the window's edge). One on-topic sentence among
/// off-topic neighbours then ranks below a window that stays on the question; other strategies,
/// whose context is what they match, keep their own similarity.
pub struct DenseIndex {
    rows: Vec<ChunkRow>,
    courses: Vec<Option<String>>,
    matrix: Vec<f32>,
    dims: usize,
    /// For each row, the rows `lo..=hi` (same revision) whose matched span lies in its context.
    window: Vec<(usize, usize)>,
}

impl DenseIndex {
    pub fn load(db: &Db, strategy: &str, model: &str, which: Which) -> Result<Self> {
        let rows = db.current_chunks(strategy, model, &SearchFilter { revision: which, ..Default::default() })?;
        let hashes: Vec<&str> = rows.iter().map(|r| r.text_sha256.as_str()).collect();
        let vectors = db.embeddings(model, &hashes)?;
        let mut courses_by_lecture: std::collections::HashMap<LectureId, Option<String>> = Default::default();
        let mut matrix = Vec::new();
        let mut dims = 0;
        let mut kept = Vec::with_capacity(rows.len());
        let mut courses = Vec::with_capacity(rows.len());
        for r in rows {
            let Some(v) = vectors.get(&r.text_sha256) else {
                return Err(Error::NotIndexed(format!(
                    "lecture {} is partly indexed (a chunk has no embedding)",
                    r.lecture
                )));
            };
            dims = v.len();
            matrix.extend_from_slice(v);
            let course = match courses_by_lecture.get(&r.lecture) {
                Some(c) => c.clone(),
                None => {
                    let c = db.lecture(r.lecture)?.meta.course;
                    courses_by_lecture.insert(r.lecture, c.clone());
                    c
                }
            };
            courses.push(course);
            kept.push(r);
        }
        let window = windows(&kept);
        Ok(Self { rows: kept, courses, matrix, dims, window })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The `n` rows most similar to `query`, best first.
    pub fn search(&self, query: &[f32], n: usize, filter: &SearchFilter) -> Vec<(ChunkRow, f32)> {
        if self.dims == 0 || query.len() != self.dims {
            return Vec::new();
        }
        let sims: Vec<f32> =
            self.matrix.chunks_exact(self.dims).map(|row| row.iter().zip(query).map(|(a, b)| a * b).sum()).collect();
        let mut scored: Vec<(f32, usize)> = Vec::with_capacity(self.rows.len());
        for (i, r) in self.rows.iter().enumerate() {
            if !filter.lectures.is_empty() && !filter.lectures.contains(&r.lecture) {
                continue;
            }
            if let Some(c) = &filter.course
                && self.courses[i].as_deref() != Some(c.as_str())
            {
                continue;
            }
            scored.push((window_score(&sims, i, self.window[i]), i));
        }
        let n = n.min(scored.len());
        if n == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(n - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(n);
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().map(|(s, i)| (self.rows[i].clone(), s)).collect()
    }
}

/// For each row, the neighbouring rows of the same revision whose matched span lies inside its context
/// (rows come in text order within a revision).
fn windows(rows: &[ChunkRow]) -> Vec<(usize, usize)> {
    let inside = |i: usize, j: usize| {
        rows[j].revision == rows[i].revision && {
            let (c, m) = (rows[i].chunk.context, rows[j].chunk.matched);
            c.start <= m.start && m.end <= c.end
        }
    };
    (0..rows.len())
        .map(|i| {
            let mut lo = i;
            while lo > 0 && inside(i, lo - 1) {
                lo -= 1;
            }
            let mut hi = i;
            while hi + 1 < rows.len() && inside(i, hi + 1) {
                hi += 1;
            }
            (lo, hi)
        })
        .collect()
}

/// Triangle-weighted mean of the similarities of rows `lo..=hi` around row `i`: weight 1 − d/(r+1) at
/// distance d, r being the window's radius (its longer side, so a window cut by the text's start or end
/// keeps the same weights).
fn window_score(sims: &[f32], i: usize, (lo, hi): (usize, usize)) -> f32 {
    if lo == hi {
        return sims[i];
    }
    let r = (i - lo).max(hi - i) as f32;
    let (mut sum, mut total) = (0.0f32, 0.0f32);
    for (j, s) in sims.iter().enumerate().take(hi + 1).skip(lo) {
        let w = 1.0 - i.abs_diff(j) as f32 / (r + 1.0);
        sum += w * s;
        total += w;
    }
    sum / total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_score_is_a_triangle_centred_on_the_sentence() {
        let sims = [0.0, 0.0, 0.9, 0.0, 0.0];
        // radius 2: weights 1/3, 2/3, 1, 2/3, 1/3 (sum 3)
        assert!((window_score(&sims, 2, (0, 4)) - 0.3).abs() < 1e-6);
        // at the text's start the window is cut, the weights stay: 1, 2/3, 1/3 over rows 0..=2
        // (0.9 × 1/3) / (1 + 2/3 + 1/3)
        assert!((window_score(&sims, 0, (0, 2)) - 0.15).abs() < 1e-6);
        // a chunk without neighbours keeps its own similarity
        assert_eq!(window_score(&sims, 2, (2, 2)), 0.9);
    }
}
