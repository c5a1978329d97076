use crate::lecture::LectureId;
use crate::store::{ChunkRow, Db, SearchFilter, Which};
use crate::{Error, Result};

/// All chunk vectors of the searchable revisions in one row-major matrix: top-k by dot product
/// (vectors are L2-normalised, so this is cosine). A scan over 10⁵ f32 vectors reads 150 MB and is
/// bound by memory bandwidth, so it first ranks an int8 copy (a quarter of the bytes), then scores the
/// best few times `n` exactly in f32: the ranking is the exact one unless int8 rounding (~10⁻³ in
/// cosine) moves a chunk across a gap of four times `n` ranks.
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
    /// `matrix` rounded to int8, row by row, with each row's scale.
    coarse: Vec<i8>,
    scales: Vec<f32>,
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
        let (coarse, scales) = if dims == 0 { Default::default() } else { quantize_rows(&matrix, dims) };
        Ok(Self { rows: kept, courses, matrix, coarse, scales, dims, window })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The `n` rows most similar to `query`, best first.
    pub fn search(&self, query: &[f32], n: usize, filter: &SearchFilter) -> Vec<(ChunkRow, f32)> {
        if self.dims == 0 || query.len() != self.dims || n == 0 {
            return Vec::new();
        }
        let (q8, qscale) = quantize_rows(query, self.dims);
        let rough: Vec<f32> = self
            .coarse
            .chunks_exact(self.dims)
            .zip(&self.scales)
            .map(|(row, s)| dot_i8(row, &q8) as f32 * s * qscale[0])
            .collect();
        let shortlist = self.best(&rough, (n * 4).max(64), filter);
        // Exact similarities for the shortlist's windows only.
        let mut exact: std::collections::HashMap<usize, f32> = Default::default();
        let mut sims = rough;
        for &(_, i) in &shortlist {
            let (lo, hi) = self.window[i];
            for j in lo..=hi {
                let s = *exact.entry(j).or_insert_with(|| dot(&self.matrix[j * self.dims..(j + 1) * self.dims], query));
                sims[j] = s;
            }
        }
        let mut scored: Vec<(f32, usize)> = shortlist.iter().map(|&(_, i)| (window_score(&sims, i, self.window[i]), i)).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(n);
        scored.into_iter().map(|(s, i)| (self.rows[i].clone(), s)).collect()
    }

    /// The `n` best rows passing `filter` by window score over `sims`, unordered.
    fn best(&self, sims: &[f32], n: usize, filter: &SearchFilter) -> Vec<(f32, usize)> {
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
            scored.push((window_score(sims, i, self.window[i]), i));
        }
        let n = n.min(scored.len());
        if n > 0 && n < scored.len() {
            scored.select_nth_unstable_by(n - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        }
        scored.truncate(n);
        scored
    }
}

/// Each row of `matrix` (row length `dims`) as int8 with its own scale (max |x| ↦ 127).
fn quantize_rows(matrix: &[f32], dims: usize) -> (Vec<i8>, Vec<f32>) {
    let mut q = Vec::with_capacity(matrix.len());
    let mut scales = Vec::with_capacity(matrix.len() / dims);
    for row in matrix.chunks_exact(dims) {
        let max = row.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        q.extend(row.iter().map(|x| (x / scale).round() as i8));
        scales.push(scale);
    }
    (q, scales)
}

/// Integer dot product in sixteen lanes (i8 × i8 fits i16 pairs; sums of 10³ fit i32).
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    const LANES: usize = 16;
    let mut acc = [0i32; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: i32 = ac.remainder().iter().zip(bc.remainder()).map(|(&x, &y)| x as i32 * y as i32).sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..LANES {
            acc[l] += x[l] as i32 * y[l] as i32;
        }
    }
    acc.iter().sum::<i32>() + tail
}

/// Dot product in sixteen independent lanes: a plain `zip().sum()` is one serial chain of float adds
/// the compiler may not reorder, which made the scan over 10⁴–10⁵ vectors several times slower.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0.0f32; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
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

    #[test]
    fn dot_in_lanes_equals_the_plain_sum_at_every_length() {
        for n in [0, 1, 15, 16, 17, 384, 1000] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() <= 1e-4 * (1.0 + plain.abs()), "n = {n}");
        }
    }

    /// 3,000 chunks in sentence windows of ±2, on a few topics (so similarities crowd together, as
    /// e5's do): the int8 shortlist and f32 rescoring give the same ranking as scoring every chunk
    /// exactly.
    #[test]
    fn shortlisted_search_ranks_as_the_exact_scan() {
        use crate::chunk::Chunk;
        use crate::lecture::{LectureId, RevisionId};
        use crate::text::CharSpan;
        use rand::{RngExt, SeedableRng};
        let (n_rows, dims) = (3000, 384);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let topics: Vec<Vec<f32>> = (0..5).map(|_| (0..dims).map(|_| rng.random::<f32>() - 0.5).collect()).collect();
        let unit = |v: Vec<f32>| {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
        };
        let mut matrix = Vec::new();
        let mut rows = Vec::new();
        for i in 0..n_rows {
            let t = &topics[(i / 40) % topics.len()];
            matrix.extend(unit(t.iter().map(|x| x + 0.6 * (rng.random::<f32>() - 0.5)).collect()));
            let span = |a: usize, b: usize| CharSpan { start: a * 10, end: b * 10 };
            let chunk = Chunk::new(span(i, i + 1), span(i.saturating_sub(2), (i + 3).min(n_rows)));
            rows.push(ChunkRow { id: i as i64, lecture: LectureId(1), revision: RevisionId(1), chunk, text_sha256: String::new() });
        }
        let window = windows(&rows);
        let (coarse, scales) = quantize_rows(&matrix, dims);
        let ix = DenseIndex { courses: vec![None; n_rows], rows, matrix, coarse, scales, dims, window };
        for _ in 0..20 {
            let t = &topics[rng.random_range(0..topics.len())];
            let q = unit(t.iter().map(|x| x + 0.6 * (rng.random::<f32>() - 0.5)).collect());
            let sims: Vec<f32> = ix.matrix.chunks_exact(dims).map(|r| dot(r, &q)).collect();
            let mut exact: Vec<(f32, usize)> = (0..n_rows).map(|i| (window_score(&sims, i, ix.window[i]), i)).collect();
            exact.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let got: Vec<i64> = ix.search(&q, 50, &SearchFilter::default()).into_iter().map(|(r, _)| r.id).collect();
            let want: Vec<i64> = exact[..50].iter().map(|&(_, i)| i as i64).collect();
            assert_eq!(got, want);
        }
    }
}
