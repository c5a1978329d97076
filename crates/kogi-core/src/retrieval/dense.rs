use crate::lecture::LectureId;
use crate::store::{ChunkRow, Db, SearchFilter};
use crate::{Error, Result};

/// All chunk vectors of the searchable revisions in one row-major matrix: exact top-k by dot product
/// (vectors are L2-normalised, so this is cosine). A lecture has ~10³ chunks; exact search over 10⁵
/// is a few milliseconds, and exact means no recall lost to an approximate index.
pub struct DenseIndex {
    rows: Vec<ChunkRow>,
    courses: Vec<Option<String>>,
    matrix: Vec<f32>,
    dims: usize,
}

impl DenseIndex {
    pub fn load(db: &Db, strategy: &str, model: &str) -> Result<Self> {
        let rows = db.current_chunks(strategy, model, &SearchFilter::default())?;
        let hashes: Vec<&str> = rows.iter().map(|r| r.text_sha256.as_str()).collect();
        let vectors = db.embeddings(model, &hashes)?;
        let mut courses_by_lecture: std::collections::HashMap<LectureId, Option<String>> = Default::default();
        let mut matrix = Vec::new();
        let mut dims = 0;
        let mut kept = Vec::with_capacity(rows.len());
        let mut courses = Vec::with_capacity(rows.len());
        for r in rows {
            let Some(v) = vectors.get(&r.text_sha256) else {
                return Err(Error::Invalid(format!(
                    "lecture {} is partly indexed (a chunk has no embedding) — run `kogi index` again",
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
        Ok(Self { rows: kept, courses, matrix, dims })
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
        let mut scored: Vec<(f32, usize)> = Vec::with_capacity(self.rows.len());
        for (i, row) in self.matrix.chunks_exact(self.dims).enumerate() {
            let r = &self.rows[i];
            if !filter.lectures.is_empty() && !filter.lectures.contains(&r.lecture) {
                continue;
            }
            if let Some(c) = &filter.course {
                if self.courses[i].as_deref() != Some(c.as_str()) {
                    continue;
                }
            }
            let s: f32 = row.iter().zip(query).map(|(a, b)| a * b).sum();
            scored.push((s, i));
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
