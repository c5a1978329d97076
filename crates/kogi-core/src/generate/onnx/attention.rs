//! kogi's own CPU kernel for the decoder's `GroupQueryAttention` nodes (the default on the CPU;
//! `KOGI_ATTENTION=onnxruntime` keeps ONNX Runtime's). ONNX Runtime's CPU kernel reads a key/value head once per *query* head
//! (three times over for SmolLM2's 9 query / 3 KV heads); at a RAG prompt's length the cache no
//! longer fits in cache memory and a one-row decode step is bound by those reads (60% of a step at
//! 2,943 cached tokens). This kernel reads each KV head once for its whole group of query heads and
//! visits only the keys a query may see.
//!
//! Keys are taken in blocks at fixed positions (0..256, 256..512, …): each block gives a partial
//! softmax (maximum, sum, weighted values) and partials are combined in block order. Three kernels:
//! steps of one or two rows score by dot products (each key read once for all their heads); passes
//! of 3 to [`MAX_STEP_ROWS`] rows put their queries side by side in vector lanes, rounding each row as
//! the dot products do, so a plain step and a speculative verification pass compute a row bit for
//! bit alike; longer (prompt) passes score and weight tiles of rows as matrix products (`matrixmultiply`).
//!
//! The cache is kept in half precision (as llama.cpp keeps it): at a RAG answer's 2,900 keys SmolLM2's
//! f32 cache was 134 MB a step, more than its weights. Keys and values are widened to f32 as the
//! kernels stream them (in registers for steps of one or two rows), so every kernel reads the same numbers.
//!
//! Semantics are ONNX Runtime's (com.microsoft `GroupQueryAttention`, BNSH cache, rotary from the
//! cos/sin caches, lengths from `seqlens_k`) but for the cache's type; the nodes are switched to this
//! kernel, and the graph's cache inputs and outputs declared float16, when kogi opens a float32
//! decoder on the CPU ([`super::graph::with_own_kernels`]); the file stays as it is.

use crate::generate::sampling::exp_nonpositive;
use half::f16;
use half::slice::HalfFloatSliceExt;
use ort::operator::{BoxedKernel, ComputeContext, KernelContext, Operator, OperatorInput, OperatorOutput};
use ort::value::TensorElementType;

/// Keys per block of the partial softmax.
const BLOCK: usize = 256;

/// What a node's attributes say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heads {
    pub q: usize,
    pub kv: usize,
    pub scale: f32,
    pub softcap: f32,
    /// Keys before the query a row may see besides itself (`local_window_size`); `None`: all.
    pub window: Option<usize>,
    pub interleaved: bool,
    pub rotary: bool,
}

/// One pass's tensors, row-major as ONNX Runtime hands them over.
pub struct Pass<'a> {
    pub batch: usize,
    pub rows: usize,
    pub head_dim: usize,
    /// `[batch, rows, (q + 2·kv)·head_dim]` packed, or Q alone with `key`/`value` given.
    pub query: &'a [f32],
    pub key: Option<&'a [f32]>,
    pub value: Option<&'a [f32]>,
    /// Total length (cached + new) per row of the batch: `seqlens_k + 1`.
    pub lengths: &'a [usize],
    /// `[positions, rot_half]` each, `rot_half` = rotary_dim / 2 (0: no rotary).
    pub cos: &'a [f32],
    pub sin: &'a [f32],
    pub rot_half: usize,
}

/// Runs `f(0..n)` on however many threads there are.
pub type Par<'a> = &'a dyn Fn(usize, &(dyn Fn(usize) + Sync));

/// The output `[batch, rows, q·head_dim]`, with the new keys and values written into the caches
/// (`[batch, kv, capacity, head_dim]`, earlier positions already there).
pub fn attend(h: &Heads, p: &Pass, present_key: &mut [f16], present_value: &mut [f16], capacity: usize, out: &mut [f32], par: Par) -> Result<(), String> {
    attend_with(pick_kernel(), h, p, present_key, present_value, capacity, out, par)
}

#[allow(clippy::too_many_arguments)]
fn attend_with(kernel: BlockKernel, h: &Heads, p: &Pass, present_key: &mut [f16], present_value: &mut [f16], capacity: usize, out: &mut [f32], par: Par) -> Result<(), String> {
    let (b, s, d) = (p.batch, p.rows, p.head_dim);
    if h.kv == 0 || !h.q.is_multiple_of(h.kv) || d == 0 {
        return Err(format!("{} query heads cannot share {} key/value heads", h.q, h.kv));
    }
    if d > MAX_HEAD || d % LANES != 0 || h.q / h.kv > MAX_GROUP {
        return Err(format!("GroupQueryAttention: heads of {d} dimensions, {} to a key/value head, are not what kogi's kernel takes", h.q / h.kv));
    }
    let stride = if p.key.is_some() { h.q * d } else { (h.q + 2 * h.kv) * d };
    if p.query.len() != b * s * stride || p.lengths.len() != b || out.len() != b * s * h.q * d {
        return Err("GroupQueryAttention: inputs of inconsistent sizes".into());
    }
    let rot = if h.rotary { 2 * p.rot_half } else { 0 };
    if rot > d || p.cos.len() != p.sin.len() {
        return Err("GroupQueryAttention: the rotary caches do not fit the head size".into());
    }
    // Queries, rotated, in one buffer; new keys (rotated) and values into the caches, in half
    // precision (every kernel reads them back the same way, so rows stay independent of their pass).
    let mut q = vec![0f32; b * s * h.q * d];
    let mut key = vec![0f32; d];
    for bi in 0..b {
        let past = p.lengths[bi].saturating_sub(s);
        if past + s > capacity {
            return Err(format!("GroupQueryAttention: {} positions do not fit a cache of {capacity}", past + s));
        }
        for i in 0..s {
            let pos = past + i;
            let row = &p.query[(bi * s + i) * stride..(bi * s + i + 1) * stride];
            let (qs, ks, vs) = match (p.key, p.value) {
                (Some(k), Some(v)) => {
                    let kvw = h.kv * d;
                    (row, &k[(bi * s + i) * kvw..(bi * s + i + 1) * kvw], &v[(bi * s + i) * kvw..(bi * s + i + 1) * kvw])
                }
                _ => (&row[..h.q * d], &row[h.q * d..(h.q + h.kv) * d], &row[(h.q + h.kv) * d..]),
            };
            let (cos, sin) = if rot > 0 {
                let at = pos * rot / 2;
                if at + rot / 2 > p.cos.len() {
                    return Err(format!("GroupQueryAttention: position {pos} is past the rotary caches"));
                }
                (&p.cos[at..at + rot / 2], &p.sin[at..at + rot / 2])
            } else {
                (&[][..], &[][..])
            };
            for hh in 0..h.q {
                let dst = &mut q[((bi * s + i) * h.q + hh) * d..][..d];
                dst.copy_from_slice(&qs[hh * d..(hh + 1) * d]);
                rotate(dst, cos, sin, h.interleaved);
            }
            for g in 0..h.kv {
                let at = ((bi * h.kv + g) * capacity + pos) * d;
                key.copy_from_slice(&ks[g * d..(g + 1) * d]);
                rotate(&mut key, cos, sin, h.interleaved);
                present_key[at..at + d].convert_from_f32_slice(&key);
                present_value[at..at + d].convert_from_f32_slice(&vs[g * d..(g + 1) * d]);
            }
        }
    }
    let group = h.q / h.kv;
    let shared = Shared { q: &q, k: present_key, v: present_value, out: Out(out.as_mut_ptr()), capacity, d, group, heads: *h, rows: s, lengths: p.lengths };
    let width = group * (d + 2);
    if s <= MAX_STEP_ROWS {
        // Steps: the cache's blocks spread over threads, their partials combined in order after.
        // Up to ROW_BY_ROW rows score by dot products; more put their queries side by side in vector lanes,
        // each score a plain chain of products over the head's dimensions and each sum over key
        // positions, so a row comes out bit for bit the same in any such pass (two-row exact steps,
        // speculative verification).
        let lanes = (s * group).div_ceil(LANES) * LANES;
        let qts: Vec<Vec<f32>> = if s <= ROW_BY_ROW { Vec::new() } else { (0..b * h.kv).map(|x| transposed_queries(&shared, x / h.kv, x % h.kv, 0..s, lanes)).collect() };
        let mut tasks = Vec::new();
        for bi in 0..b {
            let lo = (0..s).map(|i| shared.keys(bi, i).0).min().unwrap_or(0);
            let hi = (0..s).map(|i| shared.keys(bi, i).1).max().unwrap_or(0);
            for g in 0..h.kv {
                for blk in lo / BLOCK..hi.div_ceil(BLOCK) {
                    tasks.push((bi, g, blk));
                }
            }
        }
        let each = s * width;
        let mut parts = vec![0f32; tasks.len() * each];
        let partials = Out(parts.as_mut_ptr());
        par(tasks.len(), &|t| {
            let (bi, g, blk) = tasks[t];
            // SAFETY: task `t` writes only its own `each` floats; `parts` is not touched meanwhile.
            let part = unsafe { std::slice::from_raw_parts_mut(partials.at(t * each), each) };
            if s <= ROW_BY_ROW {
                kernel.block(&shared, bi, g, 0..s, blk, part);
            } else {
                with_scores(BLOCK * lanes, |scores| kernel.tile(&shared, bi, g, 0..s, blk, part, &qts[bi * h.kv + g], scores, true));
            }
        });
        let mut t = 0;
        while t < tasks.len() {
            let (bi, g, _) = tasks[t];
            let mut accs: Vec<Running> = (0..s).map(|_| Running::new(group, d)).collect();
            while t < tasks.len() && tasks[t].0 == bi && tasks[t].1 == g {
                for (acc, part) in accs.iter_mut().zip(parts[t * each..(t + 1) * each].chunks_exact(width)) {
                    acc.combine(part);
                }
                t += 1;
            }
            for (i, acc) in accs.iter().enumerate() {
                acc.finish(&shared, bi, g, i);
            }
        }
    } else {
        // A prompt: tiles of rows, their queries side by side, scored and weighted as matrix
        // products. A row's result does not depend on its tile or pass either, but differs in
        // rounding from the row-by-row kernel (prompt passes are never compared with steps).
        let tiles = s.div_ceil(TILE);
        par(b * h.kv * tiles, &|t| {
            // The last rows see the most keys: they go first, so threads finish together.
            let (bi, g, tile) = (t / (h.kv * tiles), (t / tiles) % h.kv, tiles - 1 - t % tiles);
            let rows = tile * TILE..((tile + 1) * TILE).min(s);
            let lo = rows.clone().map(|i| shared.keys(bi, i).0).min().unwrap_or(0);
            let hi = rows.clone().map(|i| shared.keys(bi, i).1).max().unwrap_or(0);
            let lanes = (rows.len() * group).div_ceil(LANES) * LANES;
            let qt = transposed_queries(&shared, bi, g, rows.clone(), lanes);
            let mut accs: Vec<Running> = rows.clone().map(|_| Running::new(group, d)).collect();
            let mut parts = vec![0f32; rows.len() * width];
            for blk in lo / BLOCK..hi.div_ceil(BLOCK) {
                with_scores(BLOCK * lanes, |scores| kernel.tile(&shared, bi, g, rows.clone(), blk, &mut parts, &qt, scores, false));
                for (acc, part) in accs.iter_mut().zip(parts.chunks_exact(width)) {
                    acc.combine(part);
                }
            }
            for (acc, i) in accs.iter().zip(rows) {
                acc.finish(&shared, bi, g, i);
            }
        });
    }
    Ok(())
}

thread_local! {
    /// A task's scores, kept for the thread's next task: zeroing a fresh block of them for every
    /// task was 4% of a verification pass. The kernels write every score they read.
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

thread_local! {
    /// A task's block of keys and values in f32, widened from the half-precision cache as the
    /// kernels stream it: the lanes kernel reads each value row for every set of lanes.
    static BLOCK_KV: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// `f(keys, values)` with this thread's block scratch (`BLOCK` rows of `d` each, contents stale).
fn with_block<R>(d: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    BLOCK_KV.with(|cell| {
        let mut kv = cell.borrow_mut();
        let (kb, vb) = &mut *kv;
        if kb.len() < BLOCK * d {
            *kb = vec![0f32; BLOCK * d];
            *vb = vec![0f32; BLOCK * d];
        }
        f(&mut kb[..BLOCK * d], &mut vb[..BLOCK * d])
    })
}

/// `src` in f32 (exact); `f16c`: eight at a time by F16C (only the vector variants, whose features
/// include it, pass true).
#[inline(always)]
fn widen(src: &[f16], dst: &mut [f32], f16c: bool) {
    assert_eq!(src.len(), dst.len());
    let mut n = 0;
    #[cfg(target_arch = "x86_64")]
    if f16c {
        use std::arch::x86_64::{_mm_loadu_si128, _mm256_cvtph_ps, _mm256_storeu_ps};
        n = src.len() / 8 * 8;
        for i in (0..n).step_by(8) {
            // SAFETY: `i + 8 <= n <= len` for both slices; only variants compiled with F16C pass `F16C`.
            unsafe { _mm256_storeu_ps(dst.as_mut_ptr().add(i), _mm256_cvtph_ps(_mm_loadu_si128(src.as_ptr().add(i) as *const _))) };
        }
    }
    if n < src.len() {
        src[n..].convert_to_f32_slice(&mut dst[n..]);
    }
}

fn with_scores<R>(n: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCORES.with_borrow_mut(|v| {
        if v.len() < n {
            v.resize(n, 0.0);
        }
        f(&mut v[..n])
    })
}

/// The queries of `rows` of batch row `bi` for KV head `g`'s group, as `[dim][row·group + head]`
/// padded to `lanes`.
fn transposed_queries(s: &Shared, bi: usize, g: usize, rows: std::ops::Range<usize>, lanes: usize) -> Vec<f32> {
    let (d, group) = (s.d, s.group);
    let mut qt = vec![0f32; d * lanes];
    for (r, i) in rows.enumerate() {
        let q0 = ((bi * s.rows + i) * s.heads.q + g * group) * d;
        for (hh, q) in s.q[q0..q0 + group * d].chunks_exact(d).enumerate() {
            for (dd, &x) in q.iter().enumerate() {
                qt[dd * lanes + r * group + hh] = x;
            }
        }
    }
    qt
}

/// Passes of up to this many rows score by dot products ([`rows_f16c`], each key widened once for
/// all their heads); more take the lanes kernel. One thread, 30 layers × 2,900 cached keys (Zen 4,
/// `tests::timing`): two rows 10.9 ms against 12.9 in lanes, three 16.4 against 14.2.
const ROW_BY_ROW: usize = 2;

/// Passes of `ROW_BY_ROW + 1` to this many rows take the lanes kernel (speculative drafts are far shorter).
pub const MAX_STEP_ROWS: usize = 64;

/// The most rows a step pass of `rows` rows could have for the same sets of sixteen lanes, with
/// `group` query heads a row (`rows` itself where rows score by dot products). Scoring costs a
/// pass by its lane sets, so the rows that fill the last one cost only their values and products:
/// SmolLM2's three heads a row fill sets at 5, 10, 16 and 21 rows.
pub fn rows_filling_lanes(rows: usize, group: usize) -> usize {
    if rows <= ROW_BY_ROW || rows > MAX_STEP_ROWS || group == 0 {
        return rows;
    }
    ((rows * group).div_ceil(LANES) * LANES / group).min(MAX_STEP_ROWS)
}

/// Rows of a prompt pass per task (keys read by one row are still in cache for the next).
const TILE: usize = 128;
/// Most query heads per KV head the kernel takes (`attend` refuses more).
pub const MAX_GROUP: usize = 16;

/// Rotary embedding of one head vector over its first `2·cos.len()` dimensions.
#[inline]
fn rotate(x: &mut [f32], cos: &[f32], sin: &[f32], interleaved: bool) {
    let half = cos.len();
    if half == 0 {
        return;
    }
    if interleaved {
        for j in 0..half {
            let (a, b) = (x[2 * j], x[2 * j + 1]);
            x[2 * j] = a * cos[j] - b * sin[j];
            x[2 * j + 1] = b * cos[j] + a * sin[j];
        }
    } else {
        for j in 0..half {
            let (a, b) = (x[j], x[j + half]);
            x[j] = a * cos[j] - b * sin[j];
            x[j + half] = b * cos[j] + a * sin[j];
        }
    }
}

#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: tasks write disjoint ranges (see the call sites).
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// A method, so closures capture the `Sync` wrapper rather than its raw pointer.
    fn at(&self, i: usize) -> *mut f32 {
        self.0.wrapping_add(i)
    }
}

struct Shared<'a> {
    q: &'a [f32],
    k: &'a [f16],
    v: &'a [f16],
    out: Out,
    capacity: usize,
    d: usize,
    group: usize,
    heads: Heads,
    rows: usize,
    lengths: &'a [usize],
}

impl Shared<'_> {
    /// The keys row `i` of batch row `bi` sees: `lo..hi`.
    fn keys(&self, bi: usize, i: usize) -> (usize, usize) {
        let hi = self.lengths[bi].saturating_sub(self.rows) + i + 1;
        let lo = match self.heads.window {
            Some(w) if hi > w + 1 => hi - w - 1,
            _ => 0,
        };
        (lo, hi)
    }
}

/// The softmax so far over the blocks combined: per head its maximum, sum and weighted values.
struct Running {
    m: Vec<f32>,
    l: Vec<f32>,
    acc: Vec<f32>,
    d: usize,
}

impl Running {
    fn new(group: usize, d: usize) -> Self {
        Self { m: vec![f32::NEG_INFINITY; group], l: vec![0.0; group], acc: vec![0.0; group * d], d }
    }

    /// Add a block's partial (`[m, l, acc…]` per head).
    fn combine(&mut self, part: &[f32]) {
        let d = self.d;
        for (h, p) in part.chunks_exact(d + 2).enumerate() {
            let (pm, pl, pa) = (p[0], p[1], &p[2..]);
            if pl == 0.0 {
                continue;
            }
            let m = self.m[h].max(pm);
            let (a, b) = (exp_nonpositive(self.m[h] - m), exp_nonpositive(pm - m));
            let a = if self.l[h] == 0.0 { 0.0 } else { a };
            self.l[h] = self.l[h] * a + pl * b;
            for (x, y) in self.acc[h * d..(h + 1) * d].iter_mut().zip(pa) {
                *x = *x * a + y * b;
            }
            self.m[h] = m;
        }
    }

    fn finish(&self, s: &Shared, bi: usize, g: usize, i: usize) {
        let d = self.d;
        for h in 0..s.group {
            let head = g * s.group + h;
            let at = ((bi * s.rows + i) * s.heads.q + head) * d;
            // SAFETY: each (bi, i, head) is written by exactly one task.
            let out = unsafe { std::slice::from_raw_parts_mut(s.out.at(at), d) };
            let inv = if self.l[h] > 0.0 { 1.0 / self.l[h] } else { 0.0 };
            for (o, a) in out.iter_mut().zip(&self.acc[h * d..(h + 1) * d]) {
                *o = a * inv;
            }
        }
    }
}

type BlockFn = unsafe fn(&Shared, usize, usize, std::ops::Range<usize>, usize, &mut [f32], &mut [f32], &mut [f32], &mut [f32]);
type TileFn = unsafe fn(&Shared, usize, usize, std::ops::Range<usize>, usize, &mut [f32], &[f32], &mut [f32], bool, &mut [f32], &mut [f32]);

/// The kernels, compiled for the widest vector unit the machine has.
#[derive(Clone, Copy)]
struct BlockKernel(BlockFn, TileFn);

impl BlockKernel {
    fn block(&self, s: &Shared, bi: usize, g: usize, rows: std::ops::Range<usize>, blk: usize, parts: &mut [f32]) {
        let n = rows.len() * s.group * BLOCK;
        // SAFETY: `pick_kernel` chose a variant whose features this CPU has.
        with_block(s.d, |kb, vb| with_scores(n, |scores| unsafe { (self.0)(s, bi, g, rows, blk, parts, kb, vb, scores) }))
    }

    #[allow(clippy::too_many_arguments)]
    fn tile(&self, s: &Shared, bi: usize, g: usize, rows: std::ops::Range<usize>, blk: usize, parts: &mut [f32], qt: &[f32], scores: &mut [f32], steps: bool) {
        // SAFETY: `pick_kernel` chose a variant whose features this CPU has.
        with_block(s.d, |kb, vb| unsafe { (self.1)(s, bi, g, rows, blk, parts, qt, scores, steps, kb, vb) })
    }
}

macro_rules! variants {
    ($($(#[$attr:meta])* $block:ident, $tile:ident, $wide:expr, $avx2:expr;)*) => {$(
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        unsafe fn $block(s: &Shared, bi: usize, g: usize, rows: std::ops::Range<usize>, blk: usize, parts: &mut [f32], kb: &mut [f32], vb: &mut [f32], scores: &mut [f32]) {
            block_body::<{ $wide || $avx2 }>(s, bi, g, rows, blk, parts, kb, vb, scores)
        }
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        unsafe fn $tile(s: &Shared, bi: usize, g: usize, rows: std::ops::Range<usize>, blk: usize, parts: &mut [f32], qt: &[f32], scores: &mut [f32], steps: bool, kb: &mut [f32], vb: &mut [f32]) {
            tile_body::<$wide, $avx2>(s, bi, g, rows, blk, parts, qt, scores, steps, kb, vb)
        }
    )*};
}

variants! {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    block_avx512, tile_avx512, true, false;
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,f16c")]
    block_avx2, tile_avx2, false, true;
    block_plain, tile_plain, false, false;
}

/// On CPUs that run AVX-512 as two halves (Zen 4) one-row passes take the AVX2 variant: they
/// stream the cache from memory, which 256-bit loads do faster there (30 layers × 2,900 keys, one
/// thread: 10.7–10.9 against 11.7–12.0 ms), as in [`super::nbits`]. Both give the same bits.
fn pick_kernel() -> BlockKernel {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("f16c");
        if std::arch::is_x86_feature_detected!("avx512f") && avx2 {
            return BlockKernel(if super::nbits::halved_avx512() { block_avx2 } else { block_avx512 }, tile_avx512);
        }
        if avx2 {
            return BlockKernel(block_avx2, tile_avx2);
        }
    }
    BlockKernel(block_plain, tile_plain)
}

const LANES: usize = 16;
/// Keys scored together in a step.
const KEYS: usize = 4;
/// Value dimensions accumulated at once: two sets of four registers keep the FMA units busy.
const WIDE: usize = 4 * LANES;
/// Largest head size the kernel takes (`attend` refuses more).
pub const MAX_HEAD: usize = 256;

/// Dot product of two head vectors (`d` a multiple of 16): sixteen lanes, then a fixed tree.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        let x: &[f32; LANES] = x.try_into().expect("a lane group");
        let y: &[f32; LANES] = y.try_into().expect("a lane group");
        for l in 0..LANES {
            acc[l] = x[l].mul_add(y[l], acc[l]);
        }
    }
    reduce(acc)
}

/// [`dot`] of a query with a half-precision key, the key widened in registers: the same products,
/// chains and tree, so the same bits.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn dot_f16c(q: &[f32], k: &[f16]) -> f32 {
    use std::arch::x86_64::*;
    debug_assert!(q.len() == k.len() && q.len().is_multiple_of(LANES));
    unsafe {
        let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for c in (0..q.len()).step_by(LANES) {
            let kl = _mm256_cvtph_ps(_mm_loadu_si128(k.as_ptr().add(c) as *const _));
            let kh = _mm256_cvtph_ps(_mm_loadu_si128(k.as_ptr().add(c + 8) as *const _));
            lo = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(c)), kl, lo);
            hi = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(c + 8)), kh, hi);
        }
        // The tree of `reduce`: lanes l + 8, then l + 4, l + 2, l + 1 added to lane l.
        let x = _mm256_add_ps(lo, hi);
        let x = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps::<1>(x));
        let x = _mm_add_ps(x, _mm_movehl_ps(x, x));
        _mm_cvtss_f32(_mm_add_ss(x, _mm_shuffle_ps::<1>(x, x)))
    }
}

#[inline(always)]
fn reduce(mut acc: [f32; LANES]) -> f32 {
    let mut w = LANES / 2;
    while w > 0 {
        for l in 0..w {
            acc[l] += acc[l + w];
        }
        w /= 2;
    }
    acc[0]
}

/// `Σ_t p[t]·v[t][c0..c0+N]` over keys `first + t`, even and odd keys in two accumulators (added
/// at the end), so the order depends only on the keys' positions.
#[inline(always)]
fn weighted<const N: usize>(p: impl Fn(usize) -> f32, n: usize, first: usize, v: &[f32], d: usize, c0: usize, out: &mut [f32]) {
    let (mut even, mut odd) = ([0f32; N], [0f32; N]);
    let row = |t: usize| -> &[f32; N] { v[t * d + c0..t * d + c0 + N].try_into().expect("a lane group") };
    let add = |acc: &mut [f32; N], w: f32, x: &[f32; N]| {
        for l in 0..N {
            acc[l] = w.mul_add(x[l], acc[l]);
        }
    };
    let mut t = 0;
    if first & 1 == 1 && n > 0 {
        add(&mut odd, p(0), row(0));
        t = 1;
    }
    // Pairs from an even key on: both accumulators stay in registers.
    while t + 1 < n {
        add(&mut even, p(t), row(t));
        add(&mut odd, p(t + 1), row(t + 1));
        t += 2;
    }
    if t < n {
        add(&mut even, p(t), row(t));
    }
    for l in 0..N {
        out[l] = even[l] + odd[l];
    }
}

/// Scores of `N` keys (`ks`, `N × d`) against lane group `c` of the transposed queries, each lane
/// rounding as [`dot`]: partial sums by dimension mod 16, combined by [`reduce`]'s tree. The tree is
/// walked leaf pair by leaf pair, so only a few partials per key are live at once.
#[inline(always)]
fn lane_scores<const N: usize>(qt: &[f32], lanes: usize, c: usize, ks: &[f32], d: usize) -> [[f32; LANES]; N] {
    // No closures here: a closure takes the target features of the function it is written in
    // (none), not those of the kernel this is inlined into, and its `mul_add` became a library call.
    let b0 = add(pair::<N>(qt, lanes, c, ks, d, 0), pair::<N>(qt, lanes, c, ks, d, 4));
    let b2 = add(pair::<N>(qt, lanes, c, ks, d, 2), pair::<N>(qt, lanes, c, ks, d, 6));
    let b1 = add(pair::<N>(qt, lanes, c, ks, d, 1), pair::<N>(qt, lanes, c, ks, d, 5));
    let b3 = add(pair::<N>(qt, lanes, c, ks, d, 3), pair::<N>(qt, lanes, c, ks, d, 7));
    add(add(b0, b2), add(b1, b3))
}

/// [`lane_scores`] of four keys, times `scale`, into `out` (key `t`'s sixteen lanes at `t·lanes`),
/// written with AVX-512 intrinsics: the same products and sums in the same order, but leaves `p`
/// and `p + 8` computed together (eight independent chains) and the tree added as soon as its
/// operands exist, so nothing spills.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn lane_scores4_avx512<const D: usize>(qt: &[f32], lanes: usize, c: usize, ks: &[f32], d: usize, scale: f32, out: &mut [f32]) {
    use std::arch::x86_64::*;
    // A head size known at compile time (`D` > 0) unrolls the chains.
    let d = if D > 0 { D } else { d };
    assert!(d % LANES == 0 && ks.len() >= KEYS * d && qt.len() >= d * lanes && (c + 1) * LANES <= lanes && out.len() >= (KEYS - 1) * lanes + LANES);
    let (q, k) = (qt[c * LANES..].as_ptr(), ks.as_ptr());
    // Leaves `p` and `p + 8` of the four keys, added.
    let pair = |p: usize| -> [__m512; KEYS] {
        let (mut a, mut b) = ([_mm512_setzero_ps(); KEYS], [_mm512_setzero_ps(); KEYS]);
        let mut dd = p;
        while dd < d {
            // SAFETY: `dd + 8 < d`, so both query rows lie in `qt` and every key's dimension in `ks`.
            unsafe {
                let (q0, q8) = (_mm512_loadu_ps(q.add(dd * lanes)), _mm512_loadu_ps(q.add((dd + 8) * lanes)));
                for t in 0..KEYS {
                    a[t] = _mm512_fmadd_ps(q0, _mm512_set1_ps(*k.add(t * d + dd)), a[t]);
                    b[t] = _mm512_fmadd_ps(q8, _mm512_set1_ps(*k.add(t * d + dd + 8)), b[t]);
                }
            }
            dd += LANES;
        }
        std::array::from_fn(|t| _mm512_add_ps(a[t], b[t]))
    };
    let add = |x: [__m512; KEYS], y: [__m512; KEYS]| -> [__m512; KEYS] { std::array::from_fn(|t| _mm512_add_ps(x[t], y[t])) };
    let b0 = add(pair(0), pair(4));
    let c0 = add(b0, add(pair(2), pair(6)));
    let b1 = add(pair(1), pair(5));
    let c1 = add(b1, add(pair(3), pair(7)));
    let sum = add(c0, c1);
    let scale = _mm512_set1_ps(scale);
    for (t, x) in sum.iter().enumerate() {
        // SAFETY: checked above: key `t`'s lanes lie inside `out`.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(t * lanes), _mm512_mul_ps(*x, scale)) };
    }
}

/// [`lane_scores4_avx512`] for CPUs with AVX2 only. Both halves of eight lanes: leaf by leaf, each
/// key dimension broadcast once for both halves (eight chains), the first level of the tree added
/// in memory and the rest from there — broadcasts were most of this loop's time when each half
/// broadcast the keys again. `halves` 1: the first eight lanes alone, their chains and tree in registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn lane_scores4_avx2<const D: usize>(qt: &[f32], lanes: usize, c: usize, halves: usize, ks: &[f32], d: usize, scale: f32, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let d = if D > 0 { D } else { d };
    assert!(d % LANES == 0 && ks.len() >= KEYS * d && qt.len() >= d * lanes && (c + 1) * LANES <= lanes && out.len() >= (KEYS - 1) * lanes + LANES);
    let (q, k) = (qt[c * LANES..].as_ptr(), ks.as_ptr());
    let scale = _mm256_set1_ps(scale);
    if halves >= 2 {
        // Leaf `p` of the four keys, both halves: `[key·2 + half]`.
        let leaf = |p: usize| -> [__m256; 2 * KEYS] {
            let mut acc = [_mm256_setzero_ps(); 2 * KEYS];
            let mut dd = p;
            while dd < d {
                // SAFETY: `dd < d`: the query row's sixteen lanes of group `c` lie in `qt`, every key's dimension in `ks`.
                unsafe {
                    let (q0, q1) = (_mm256_loadu_ps(q.add(dd * lanes)), _mm256_loadu_ps(q.add(dd * lanes + 8)));
                    for t in 0..KEYS {
                        let kd = _mm256_set1_ps(*k.add(t * d + dd));
                        acc[2 * t] = _mm256_fmadd_ps(q0, kd, acc[2 * t]);
                        acc[2 * t + 1] = _mm256_fmadd_ps(q1, kd, acc[2 * t + 1]);
                    }
                }
                dd += LANES;
            }
            acc
        };
        let pairs: [[__m256; 2 * KEYS]; 8] = std::array::from_fn(|p| {
            let (a, b) = (leaf(p), leaf(p + 8));
            std::array::from_fn(|i| _mm256_add_ps(a[i], b[i]))
        });
        let add = |x: [__m256; 2 * KEYS], y: [__m256; 2 * KEYS]| -> [__m256; 2 * KEYS] { std::array::from_fn(|i| _mm256_add_ps(x[i], y[i])) };
        let c0 = add(add(pairs[0], pairs[4]), add(pairs[2], pairs[6]));
        let c1 = add(add(pairs[1], pairs[5]), add(pairs[3], pairs[7]));
        for (i, x) in add(c0, c1).iter().enumerate() {
            // SAFETY: checked above: key `i / 2`'s lanes lie inside `out`.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(i / 2 * lanes + 8 * (i % 2)), _mm256_mul_ps(*x, scale)) };
        }
        return;
    }
    let add = |x: [__m256; KEYS], y: [__m256; KEYS]| -> [__m256; KEYS] { std::array::from_fn(|t| _mm256_add_ps(x[t], y[t])) };
    let pair = |p: usize| -> [__m256; KEYS] {
        let (mut a, mut b) = ([_mm256_setzero_ps(); KEYS], [_mm256_setzero_ps(); KEYS]);
        let mut dd = p;
        while dd < d {
            // SAFETY: `dd + 8 < d`, so both query rows lie in `qt` and every key's dimension in `ks`.
            unsafe {
                let (q0, q8) = (_mm256_loadu_ps(q.add(dd * lanes)), _mm256_loadu_ps(q.add((dd + 8) * lanes)));
                for t in 0..KEYS {
                    a[t] = _mm256_fmadd_ps(q0, _mm256_set1_ps(*k.add(t * d + dd)), a[t]);
                    b[t] = _mm256_fmadd_ps(q8, _mm256_set1_ps(*k.add(t * d + dd + 8)), b[t]);
                }
            }
            dd += LANES;
        }
        std::array::from_fn(|t| _mm256_add_ps(a[t], b[t]))
    };
    let b0 = add(pair(0), pair(4));
    let c0 = add(b0, add(pair(2), pair(6)));
    let b1 = add(pair(1), pair(5));
    let c1 = add(b1, add(pair(3), pair(7)));
    for (t, x) in add(c0, c1).iter().enumerate() {
        // SAFETY: checked above: key `t`'s first eight lanes lie inside `out`.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(t * lanes), _mm256_mul_ps(*x, scale)) };
    }
}

/// Partial sums `p` and `p + 8`, added (the tree's first level).
#[inline(always)]
fn pair<const N: usize>(qt: &[f32], lanes: usize, c: usize, ks: &[f32], d: usize, p: usize) -> [[f32; LANES]; N] {
    add(leaf::<N>(qt, lanes, c, ks, d, p), leaf::<N>(qt, lanes, c, ks, d, p + 8))
}

/// Partial sum `p` (dimensions p, p + 16, …) of `N` keys' scores, in lanes.
#[inline(always)]
fn leaf<const N: usize>(qt: &[f32], lanes: usize, c: usize, ks: &[f32], d: usize, p: usize) -> [[f32; LANES]; N] {
    let mut acc = [[0f32; LANES]; N];
    let mut dd = p;
    while dd < d {
        let q: &[f32; LANES] = qt[dd * lanes + c * LANES..dd * lanes + (c + 1) * LANES].try_into().expect("a lane group");
        for (t, a) in acc.iter_mut().enumerate() {
            // SAFETY: `ks` holds N rows of `d`, and `t < N`, `dd < d`.
            let kd = unsafe { *ks.get_unchecked(t * d + dd) };
            for l in 0..LANES {
                a[l] = q[l].mul_add(kd, a[l]);
            }
        }
        dd += LANES;
    }
    acc
}

#[inline(always)]
fn add<const N: usize>(mut a: [[f32; LANES]; N], b: [[f32; LANES]; N]) -> [[f32; LANES]; N] {
    for (x, y) in a.iter_mut().zip(&b) {
        for l in 0..LANES {
            x[l] += y[l];
        }
    }
    a
}

/// Query lanes whose weighted values are accumulated together (two chains each of two registers:
/// sixteen accumulators).
const VALUE_LANES: usize = 4;

/// [`weighted`] for up to [`VALUE_LANES`] query lanes at once, dimensions `c0..c0 + N`: lane `x`
/// (`qis[x]`, its scores `p[(j - blk0) * lanes + qis[x]]`) over its keys `keys[x]`, the same
/// products added in the same order (even and odd key positions in two chains, each in key order),
/// but each value row read once for every lane over the keys they all see. Keys are absolute
/// positions; `v` holds the block's value rows from `blk0` (`(j - blk0) * d`); lanes past the set's end have empty ranges.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn weighted_lanes<const N: usize>(p: &[f32], lanes: usize, blk0: usize, qis: &[usize; VALUE_LANES], keys: &[(usize, usize); VALUE_LANES], v: &[f32], d: usize, c0: usize) -> [[f32; N]; VALUE_LANES] {
    let (mut even, mut odd) = ([[0f32; N]; VALUE_LANES], [[0f32; N]; VALUE_LANES]);
    let ca = keys.iter().filter(|k| k.0 < k.1).map(|k| k.0).max().unwrap_or(0);
    let ce = keys.iter().filter(|k| k.0 < k.1).map(|k| k.1).min().unwrap_or(0);
    // Keys every live lane sees are taken together (padding lanes, with no keys, add to chains never
    // read); a lane's own keys before and after them alone.
    let (ca, ce) = if ca < ce { (ca, ce) } else { (usize::MAX, usize::MAX) };
    let alone = |even: &mut [[f32; N]; VALUE_LANES], odd: &mut [[f32; N]; VALUE_LANES], x: usize, j: usize| {
        let chain = if j & 1 == 0 { &mut even[x] } else { &mut odd[x] };
        fma_row::<N>(chain, p[(j - blk0) * lanes + qis[x]], &v[(j - blk0) * d + c0..][..N]);
    };
    for x in 0..VALUE_LANES {
        let (a, e) = keys[x];
        for j in a..e.min(ca) {
            alone(&mut even, &mut odd, x, j);
        }
    }
    if ca < ce {
        // Parity is static inside the loop and the chains pass by value, so they stay in registers;
        // the lanes' score columns are checked once here, not per key.
        assert!(qis.iter().all(|&q| q < lanes) && (ce - blk0) * lanes <= p.len() && (ce - blk0) * d <= v.len() && c0 + N <= d);
        let (mut e2, mut o2) = (even, odd);
        let mut j = ca;
        if j & 1 == 1 {
            o2 = together::<N>(o2, p, lanes, blk0, qis, v, d, c0, j);
            j += 1;
        }
        while j + 1 < ce {
            e2 = together::<N>(e2, p, lanes, blk0, qis, v, d, c0, j);
            o2 = together::<N>(o2, p, lanes, blk0, qis, v, d, c0, j + 1);
            j += 2;
        }
        if j < ce {
            e2 = together::<N>(e2, p, lanes, blk0, qis, v, d, c0, j);
        }
        (even, odd) = (e2, o2);
    }
    for x in 0..VALUE_LANES {
        let (a, e) = keys[x];
        for j in a.max(ce)..e {
            alone(&mut even, &mut odd, x, j);
        }
    }
    for x in 0..VALUE_LANES {
        for l in 0..N {
            even[x][l] += odd[x][l];
        }
    }
    even
}

/// Most query lanes and the value dimensions the AVX-512 kernel accumulates together: one parity at
/// a time, five lanes of four vectors are 20 accumulators (six spill), each value row loaded once for
/// all of them.
const VALUE_LANES_512: usize = 5;
const VALUE_DIMS_512: usize = 4 * LANES;

/// [`weighted_lanes`] for up to five lanes and 64 dimensions with AVX-512 intrinsics: the same
/// products in the same chains (even key positions, then odd ones, each in key order, added at the
/// end), but the even chain run over the keys before the odd one, so that five lanes of a whole
/// 64-dimension slice fit in registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn weighted_lanes_avx512<const X: usize>(p: &[f32], lanes: usize, blk0: usize, qis: &[usize; X], keys: &[(usize, usize); X], v: &[f32], d: usize, c0: usize) -> [[f32; VALUE_DIMS_512]; X] {
    use std::arch::x86_64::*;
    let live = || keys.iter().filter(|k| k.0 < k.1);
    let ca = live().map(|k| k.0).max().unwrap_or(0);
    let ce = live().map(|k| k.1).min().unwrap_or(0);
    let (ca, ce) = if ca < ce { (ca, ce) } else { (usize::MAX, usize::MAX) };
    let end = live().map(|k| k.1).max().unwrap_or(0);
    assert!(live().all(|k| k.0 >= blk0) && qis.iter().all(|&q| q < lanes) && c0 + VALUE_DIMS_512 <= d);
    assert!(end == 0 || ((end - blk0) * lanes <= p.len() && (end - blk0) * d <= v.len()));
    let (pp, vp) = (p.as_ptr(), v.as_ptr());
    // SAFETY (every pointer read below): key `j` lies in some live lane's range (or the common one),
    // so `j < end` and `j >= blk0`, checked above with the lanes and dimensions.
    let row = |j: usize| -> [__m512; 4] { std::array::from_fn(|c| unsafe { _mm512_loadu_ps(vp.add((j - blk0) * d + c0 + c * LANES)) }) };
    let weight = |j: usize, x: usize| -> __m512 { _mm512_set1_ps(unsafe { *pp.add((j - blk0) * lanes + qis[x]) }) };
    let add_row = |a: &mut [__m512; 4], w: __m512, r: [__m512; 4]| {
        for c in 0..4 {
            a[c] = _mm512_fmadd_ps(w, r[c], a[c]);
        }
    };
    let mut even = [[_mm512_setzero_ps(); 4]; X];
    let mut out = [[0f32; VALUE_DIMS_512]; X];
    for parity in 0..2 {
        let mut acc = [[_mm512_setzero_ps(); 4]; X];
        // The first key of this parity from `a` (`usize::MAX`: none).
        let first = |a: usize| a.saturating_add((a & 1) ^ parity);
        for x in 0..X {
            let (a, e) = keys[x];
            for j in (first(a)..e.min(ca)).step_by(2) {
                add_row(&mut acc[x], weight(j, x), row(j));
            }
        }
        if ca < ce {
            let mut j = first(ca);
            while j < ce {
                let r = row(j);
                for (x, a) in acc.iter_mut().enumerate() {
                    add_row(a, weight(j, x), r);
                }
                j += 2;
            }
        }
        for x in 0..X {
            let (a, e) = keys[x];
            for j in (first(a.max(ce))..e).step_by(2) {
                add_row(&mut acc[x], weight(j, x), row(j));
            }
        }
        if parity == 0 {
            even = acc;
        } else {
            for x in 0..X {
                for c in 0..4 {
                    // SAFETY: `out[x]` holds four vectors.
                    unsafe { _mm512_storeu_ps(out[x].as_mut_ptr().add(c * LANES), _mm512_add_ps(even[x][c], acc[x][c])) };
                }
            }
        }
    }
    out
}

/// The weighted values of `X` lanes (`lanes_of(x)`, seeing keys `keys_of(x)`) of a block, every
/// 64-dimension slice, into their rows' partials.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn values_avx512<const X: usize>(p: &[f32], lanes: usize, blk0: usize, lanes_of: impl Fn(usize) -> usize, keys_of: impl Fn(usize) -> (usize, usize), v: &[f32], d: usize, group: usize, width: usize, parts: &mut [f32]) {
    let qis: [usize; X] = std::array::from_fn(&lanes_of);
    let keys: [(usize, usize); X] = std::array::from_fn(&keys_of);
    for c0 in (0..d).step_by(VALUE_DIMS_512) {
        let outs = weighted_lanes_avx512::<X>(p, lanes, blk0, &qis, &keys, v, d, c0);
        for (o, qi) in outs.iter().zip(qis) {
            let (r, h) = (qi / group, qi % group);
            parts[r * width + h * (d + 2) + 2 + c0..][..VALUE_DIMS_512].copy_from_slice(o);
        }
    }
}

/// Lanes and value dimensions the AVX2 kernel accumulates together: five lanes of two vectors are
/// ten accumulators, beside the value row's two and a weight (the portable chains of four lanes
/// and 32 dimensions spill: a quarter of a two-row pass's time went to reloading them).
const VALUE_LANES_256: usize = 5;
const VALUE_DIMS_256: usize = LANES;

/// [`weighted_lanes_avx512`] with AVX2: the same chains in the same order, sixteen dimensions at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn weighted_lanes_avx2<const X: usize>(p: &[f32], lanes: usize, blk0: usize, qis: &[usize; X], keys: &[(usize, usize); X], v: &[f32], d: usize, c0: usize) -> [[f32; VALUE_DIMS_256]; X] {
    use std::arch::x86_64::*;
    let live = || keys.iter().filter(|k| k.0 < k.1);
    let ca = live().map(|k| k.0).max().unwrap_or(0);
    let ce = live().map(|k| k.1).min().unwrap_or(0);
    let (ca, ce) = if ca < ce { (ca, ce) } else { (usize::MAX, usize::MAX) };
    let end = live().map(|k| k.1).max().unwrap_or(0);
    assert!(live().all(|k| k.0 >= blk0) && qis.iter().all(|&q| q < lanes) && c0 + VALUE_DIMS_256 <= d);
    assert!(end == 0 || ((end - blk0) * lanes <= p.len() && (end - blk0) * d <= v.len()));
    let (pp, vp) = (p.as_ptr(), v.as_ptr());
    // SAFETY (every pointer read below): as in `weighted_lanes_avx512`.
    let row = |j: usize| -> [__m256; 2] { std::array::from_fn(|c| unsafe { _mm256_loadu_ps(vp.add((j - blk0) * d + c0 + c * 8)) }) };
    let weight = |j: usize, x: usize| -> __m256 { _mm256_set1_ps(unsafe { *pp.add((j - blk0) * lanes + qis[x]) }) };
    let add_row = |a: &mut [__m256; 2], w: __m256, r: [__m256; 2]| {
        for c in 0..2 {
            a[c] = _mm256_fmadd_ps(w, r[c], a[c]);
        }
    };
    let mut even = [[_mm256_setzero_ps(); 2]; X];
    let mut out = [[0f32; VALUE_DIMS_256]; X];
    for parity in 0..2 {
        let mut acc = [[_mm256_setzero_ps(); 2]; X];
        let first = |a: usize| a.saturating_add((a & 1) ^ parity);
        for x in 0..X {
            let (a, e) = keys[x];
            for j in (first(a)..e.min(ca)).step_by(2) {
                add_row(&mut acc[x], weight(j, x), row(j));
            }
        }
        if ca < ce {
            let mut j = first(ca);
            while j < ce {
                let r = row(j);
                for (x, a) in acc.iter_mut().enumerate() {
                    add_row(a, weight(j, x), r);
                }
                j += 2;
            }
        }
        for x in 0..X {
            let (a, e) = keys[x];
            for j in (first(a.max(ce))..e).step_by(2) {
                add_row(&mut acc[x], weight(j, x), row(j));
            }
        }
        if parity == 0 {
            even = acc;
        } else {
            for x in 0..X {
                for c in 0..2 {
                    // SAFETY: `out[x]` holds two vectors.
                    unsafe { _mm256_storeu_ps(out[x].as_mut_ptr().add(c * 8), _mm256_add_ps(even[x][c], acc[x][c])) };
                }
            }
        }
    }
    out
}

/// [`values_avx512`] with [`weighted_lanes_avx2`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn values_avx2<const X: usize>(p: &[f32], lanes: usize, blk0: usize, lanes_of: impl Fn(usize) -> usize, keys_of: impl Fn(usize) -> (usize, usize), v: &[f32], d: usize, group: usize, width: usize, parts: &mut [f32]) {
    let qis: [usize; X] = std::array::from_fn(&lanes_of);
    let keys: [(usize, usize); X] = std::array::from_fn(&keys_of);
    for c0 in (0..d).step_by(VALUE_DIMS_256) {
        let outs = weighted_lanes_avx2::<X>(p, lanes, blk0, &qis, &keys, v, d, c0);
        for (o, qi) in outs.iter().zip(qis) {
            let (r, h) = (qi / group, qi % group);
            parts[r * width + h * (d + 2) + 2 + c0..][..VALUE_DIMS_256].copy_from_slice(o);
        }
    }
}

/// Key `j`'s value row (dimensions `c0..c0 + N`) into every lane's chain, weighted by its score.
/// The caller has checked that key `j`'s scores and value row lie inside `p` and `v`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn together<const N: usize>(mut chains: [[f32; N]; VALUE_LANES], p: &[f32], lanes: usize, blk0: usize, qis: &[usize; VALUE_LANES], v: &[f32], d: usize, c0: usize, j: usize) -> [[f32; N]; VALUE_LANES] {
    // SAFETY: checked by the caller (see `weighted_lanes`): `j < ce`, `qis[x] < lanes`, `c0 + N <= d`.
    let row = unsafe { &*(v.as_ptr().add((j - blk0) * d + c0) as *const [f32; N]) };
    for x in 0..VALUE_LANES {
        // SAFETY: as above.
        let wx = unsafe { *p.get_unchecked((j - blk0) * lanes + qis[x]) };
        for l in 0..N {
            chains[x][l] = wx.mul_add(row[l], chains[x][l]);
        }
    }
    chains
}

#[inline(always)]
fn fma_row<const N: usize>(acc: &mut [f32; N], w: f32, x: &[f32]) {
    for l in 0..N {
        acc[l] = w.mul_add(x[l], acc[l]);
    }
}

/// `weighted` over a head's whole dimension, in lane groups.
#[inline(always)]
fn weighted_all(p: impl Fn(usize) -> f32 + Copy, n: usize, first: usize, v: &[f32], d: usize, out: &mut [f32]) {
    let mut c0 = 0;
    while c0 + WIDE <= d {
        weighted::<WIDE>(p, n, first, v, d, c0, &mut out[c0..c0 + WIDE]);
        c0 += WIDE;
    }
    while c0 < d {
        weighted::<LANES>(p, n, first, v, d, c0, &mut out[c0..c0 + LANES]);
        c0 += LANES;
    }
}

/// A tile's block: scores with the tile's queries in lanes (`qt`, `[d][lanes]`), then per lane its
/// maximum, exponentials and sum over the keys its row may see (others count as absent), then
/// each query's weighted values. `scores` holds `[BLOCK][lanes]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn tile_body<const AVX512: bool, const AVX2: bool>(s: &Shared, bi: usize, g: usize, rows: std::ops::Range<usize>, blk: usize, parts: &mut [f32], qt: &[f32], scores: &mut [f32], steps: bool, kb: &mut [f32], vb: &mut [f32]) {
    let d = s.d;
    let group = s.group;
    let width = group * (d + 2);
    let lanes = qt.len() / d;
    let base = (bi * s.heads.kv + g) * s.capacity;
    let first = blk * BLOCK;
    let bounds: Vec<(usize, usize)> = rows.clone().map(|i| {
        let (lo, hi) = s.keys(bi, i);
        (lo.max(first), hi.min(first + BLOCK))
    }).collect();
    let lo = bounds.iter().map(|b| b.0).min().unwrap_or(first);
    let hi = bounds.iter().map(|b| b.1).max().unwrap_or(first);
    for p in parts.chunks_exact_mut(d + 2) {
        p.fill(0.0);
        p[0] = f32::NEG_INFINITY;
    }
    if lo >= hi {
        return;
    }
    let n = hi - lo;
    // AVX2 steps take lanes in eights: a last group of eight is neither scored nor exponentiated
    // (a two-row pass of SmolLM2 uses 6 of 16 lanes).
    let used = (rows.len() * group).div_ceil(8) * 8;
    if steps {
        // Each lane's score rounds as the one-row kernel's `dot`: sixteen partial sums by dimension
        // (dimension mod 16, in order), then the same tree, so a row's scores do not depend on
        // whether its pass has one row or several.
        let mut j = lo;
        while j < hi {
            let m = if j + KEYS <= hi { KEYS } else { 1 };
            // Keys and values widened as they stream in, so the memory reads overlap the scoring.
            ahead(s, base, j, m);
            let at = (j - first) * d..(j - first + m) * d;
            widen(&s.k[(base + j) * d..][..m * d], &mut kb[at.clone()], AVX512 || AVX2);
            widen(&s.v[(base + j) * d..][..m * d], &mut vb[at.clone()], AVX512 || AVX2);
            let ks = &kb[at];
            for c in 0..lanes / LANES {
                #[cfg(target_arch = "x86_64")]
                if AVX512 && m == KEYS {
                    // SAFETY: only the AVX-512 variant passes `AVX512`; `lane_scores4_avx512` checks the slices.
                    let out = &mut scores[(j - first) * lanes + c * LANES..];
                    unsafe {
                        match d {
                            64 => lane_scores4_avx512::<64>(qt, lanes, c, ks, d, s.heads.scale, out),
                            128 => lane_scores4_avx512::<128>(qt, lanes, c, ks, d, s.heads.scale, out),
                            _ => lane_scores4_avx512::<0>(qt, lanes, c, ks, d, s.heads.scale, out),
                        }
                    };
                    continue;
                }
                #[cfg(target_arch = "x86_64")]
                if AVX2 && m == KEYS {
                    let halves = (used - c * LANES).min(LANES) / 8;
                    // SAFETY: only the AVX2 variant passes `AVX2`; `lane_scores4_avx2` checks the slices.
                    let out = &mut scores[(j - first) * lanes + c * LANES..];
                    unsafe {
                        match d {
                            64 => lane_scores4_avx2::<64>(qt, lanes, c, halves, ks, d, s.heads.scale, out),
                            128 => lane_scores4_avx2::<128>(qt, lanes, c, halves, ks, d, s.heads.scale, out),
                            _ => lane_scores4_avx2::<0>(qt, lanes, c, halves, ks, d, s.heads.scale, out),
                        }
                    };
                    continue;
                }
                let mut one = [[0f32; LANES]; KEYS];
                if m == KEYS {
                    one = lane_scores::<KEYS>(qt, lanes, c, ks, d);
                } else {
                    one[0] = lane_scores::<1>(qt, lanes, c, ks, d)[0];
                }
                for (t, x) in one.iter().take(m).enumerate() {
                    let o = &mut scores[(j + t - first) * lanes + c * LANES..][..LANES];
                    for l in 0..LANES {
                        o[l] = x[l] * s.heads.scale;
                    }
                }
            }
            j += m;
        }
    } else {
        // A prompt's tile: the scores as one matrix product.
        widen(&s.k[(base + lo) * d..(base + hi) * d], &mut kb[(lo - first) * d..(hi - first) * d], AVX512 || AVX2);
        widen(&s.v[(base + lo) * d..(base + hi) * d], &mut vb[(lo - first) * d..(hi - first) * d], AVX512 || AVX2);
        // SAFETY: the strides describe `n × d` keys, `d × lanes` queries and `n × lanes` scores,
        // all inside their slices.
        unsafe {
            matrixmultiply::sgemm(
                n,
                d,
                lanes,
                s.heads.scale,
                kb[(lo - first) * d..].as_ptr(),
                d as isize,
                1,
                qt.as_ptr(),
                lanes as isize,
                1,
                0.0,
                scores[(lo - first) * lanes..].as_mut_ptr(),
                lanes as isize,
                1,
            );
        }
    }
    // Which keys each lane's row sees.
    let mut lane_lo = vec![usize::MAX; lanes];
    let mut lane_hi = vec![0usize; lanes];
    for (r, &(a, e)) in bounds.iter().enumerate() {
        for h in 0..group {
            lane_lo[r * group + h] = a;
            lane_hi[r * group + h] = e;
        }
    }
    let vb: &[f32] = vb;
    let t = Lanes { s, rows: rows.len(), lanes, first, lo, hi, v: vb, lane_lo: &lane_lo, lane_hi: &lane_hi, steps };
    for c in 0..lanes / LANES {
        if AVX2 && steps && (c + 1) * LANES > used {
            lane_group::<8, AVX512, AVX2>(&t, c * LANES, scores, parts);
        } else {
            lane_group::<LANES, AVX512, AVX2>(&t, c * LANES, scores, parts);
        }
    }
    if steps {
        return;
    }
    // Weighted values for every query at once: keys a row does not see weigh exactly 0.
    let mut values = vec![0f32; lanes * d];
    // SAFETY: `scores` read as a `lanes × n` matrix (transposed view), values `n × d`, the result
    // `lanes × d`, all inside their slices.
    unsafe {
        matrixmultiply::sgemm(
            lanes,
            n,
            d,
            1.0,
            scores[(lo - first) * lanes..].as_ptr(),
            1,
            lanes as isize,
            vb[(lo - first) * d..].as_ptr(),
            d as isize,
            1,
            0.0,
            values.as_mut_ptr(),
            d as isize,
            1,
        );
    }
    for (qi, x) in values.chunks_exact(d).enumerate() {
        let (r, h) = (qi / group, qi % group);
        if r < rows.len() && lane_lo[qi] < lane_hi[qi] {
            parts[r * width + h * (d + 2) + 2..r * width + (h + 1) * (d + 2)].copy_from_slice(x);
        }
    }
}

/// What a tile's lane groups share.
struct Lanes<'a> {
    s: &'a Shared<'a>,
    rows: usize,
    lanes: usize,
    first: usize,
    lo: usize,
    hi: usize,
    /// The block's value rows from `first`.
    v: &'a [f32],
    lane_lo: &'a [usize],
    lane_hi: &'a [usize],
    steps: bool,
}

/// Lanes `l0..l0 + W` of a tile's block: per lane its maximum, exponentials and sum over the keys its
/// row may see (others count as absent), then each live lane's weighted values into `parts`.
#[inline(always)]
fn lane_group<const W: usize, const AVX512: bool, const AVX2: bool>(t: &Lanes, l0: usize, scores: &mut [f32], parts: &mut [f32]) {
    let (s, lanes, first, lo, hi, steps) = (t.s, t.lanes, t.first, t.lo, t.hi, t.steps);
    let (d, group) = (s.d, s.group);
    let width = group * (d + 2);
    let (llo, lhi): (&[usize; W], &[usize; W]) = (t.lane_lo[l0..l0 + W].try_into().expect("a lane group"), t.lane_hi[l0..l0 + W].try_into().expect("a lane group"));
    let at = |j: usize| (j - first) * lanes + l0;
    if s.heads.softcap > 0.0 {
        for j in lo..hi {
            for x in &mut scores[at(j)..at(j) + W] {
                *x = s.heads.softcap * (*x / s.heads.softcap).tanh();
            }
        }
    }
    // Keys every used lane of the group sees need no mask (padding lanes' results are never
    // read); only the edges do. The same values, in the same order, as masking every key.
    let used = (0..W).filter(|&l| l0 + l < t.rows * group && llo[l] < lhi[l]);
    let (clo, chi) = used.fold((lo, hi), |(a, e), l| (a.max(llo[l]), e.min(lhi[l])));
    let (clo, chi) = if clo < chi { (clo, chi) } else { (hi, hi) };
    let mut m = [f32::NEG_INFINITY; W];
    for j in (lo..clo).chain(chi..hi) {
        let x: &[f32; W] = scores[at(j)..at(j) + W].try_into().expect("a lane group");
        for l in 0..W {
            let seen = j >= llo[l] && j < lhi[l];
            m[l] = if seen && x[l] > m[l] { x[l] } else { m[l] };
        }
    }
    // Four maxima side by side: one would wait on the last comparison every key. A maximum does not
    // depend on the order it is taken in, so the bits stay those of one chain.
    let mut m4 = [m; 4];
    let mut j = clo;
    while j + 4 <= chi {
        for (t, mt) in m4.iter_mut().enumerate() {
            let x: &[f32; W] = scores[at(j + t)..at(j + t) + W].try_into().expect("a lane group");
            for l in 0..W {
                mt[l] = if x[l] > mt[l] { x[l] } else { mt[l] };
            }
        }
        j += 4;
    }
    for j in j..chi {
        let x: &[f32; W] = scores[at(j)..at(j) + W].try_into().expect("a lane group");
        for l in 0..W {
            m4[0][l] = if x[l] > m4[0][l] { x[l] } else { m4[0][l] };
        }
    }
    let mut m = m4[0];
    for mt in &m4[1..] {
        for l in 0..W {
            m[l] = if mt[l] > m[l] { mt[l] } else { m[l] };
        }
    }
    // Sums by key position mod 16, then the one-row kernel's tree (steps), or in key order
    // (prompts).
    let mut sums = [[0f32; W]; LANES];
    let masked = |j: usize, x: &mut [f32; W], sum: &mut [f32; W], m: &[f32; W]| {
        for l in 0..W {
            let seen = j >= llo[l] && j < lhi[l];
            let p = exp_nonpositive(x[l] - m[l]);
            x[l] = if seen { p } else { 0.0 };
            sum[l] += x[l];
        }
    };
    for j in lo..clo {
        let x: &mut [f32; W] = (&mut scores[at(j)..at(j) + W]).try_into().expect("a lane group");
        masked(j, x, &mut sums[if steps { j % LANES } else { 0 }], &m);
    }
    let common = |j: usize, scores: &mut [f32], sum: &mut [f32; W]| {
        let x: &mut [f32; W] = (&mut scores[at(j)..at(j) + W]).try_into().expect("a lane group");
        for l in 0..W {
            x[l] = exp_nonpositive(x[l] - m[l]);
            sum[l] += x[l];
        }
    };
    let mut j = clo;
    if steps {
        // Sixteen keys at a time from a multiple of sixteen, so every key's sum is a register.
        while j < chi && j % LANES != 0 {
            common(j, scores, &mut sums[j % LANES]);
            j += 1;
        }
        while j + LANES <= chi {
            for (t, sum) in sums.iter_mut().enumerate() {
                common(j + t, scores, sum);
            }
            j += LANES;
        }
    }
    for j in j..chi {
        common(j, scores, &mut sums[if steps { j % LANES } else { 0 }]);
    }
    for j in chi.max(clo)..hi {
        let x: &mut [f32; W] = (&mut scores[at(j)..at(j) + W]).try_into().expect("a lane group");
        masked(j, x, &mut sums[if steps { j % LANES } else { 0 }], &m);
    }
    let mut w = LANES / 2;
    while steps && w > 0 {
        for p in 0..w {
            for l in 0..W {
                sums[p][l] += sums[p + w][l];
            }
        }
        w /= 2;
    }
    let sum = sums[0];
    let mut live = [0usize; W];
    let mut n_live = 0;
    for l in 0..W {
        let qi = l0 + l;
        let (r, h) = (qi / group, qi % group);
        if r >= t.rows || llo[l] >= lhi[l] {
            continue;
        }
        let out = &mut parts[r * width + h * (d + 2)..r * width + (h + 1) * (d + 2)];
        out[0] = m[l];
        out[1] = sum[l];
        live[n_live] = l;
        n_live += 1;
    }
    // Each live lane's weighted values by the vector sweep `$values`, lanes `$most` at a time at most.
    #[cfg(target_arch = "x86_64")]
    macro_rules! sweep {
        ($values:ident, $most:expr) => {
            for set in even_groups(&live[..n_live], $most) {
                let (v, lanes_of) = (t.v, |x: usize| l0 + set[x]);
                let keys_of = |x: usize| (llo[set[x]], lhi[set[x]]);
                // SAFETY (each arm): called only in the variant whose features `$values` needs.
                unsafe {
                    match set.len() {
                        1 => $values::<1>(scores, lanes, first, lanes_of, keys_of, v, d, group, width, parts),
                        2 => $values::<2>(scores, lanes, first, lanes_of, keys_of, v, d, group, width, parts),
                        3 => $values::<3>(scores, lanes, first, lanes_of, keys_of, v, d, group, width, parts),
                        4 => $values::<4>(scores, lanes, first, lanes_of, keys_of, v, d, group, width, parts),
                        _ => $values::<5>(scores, lanes, first, lanes_of, keys_of, v, d, group, width, parts),
                    }
                }
            }
        };
    }
    // Only the AVX-512 variant passes `AVX512`, only the AVX2 one `AVX2`.
    #[cfg(target_arch = "x86_64")]
    if AVX512 && steps && d.is_multiple_of(VALUE_DIMS_512) {
        sweep!(values_avx512, VALUE_LANES_512);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if AVX2 && steps && d.is_multiple_of(VALUE_DIMS_256) {
        sweep!(values_avx2, VALUE_LANES_256);
        return;
    }
    if steps {
        // Weighted values a few lanes at a time: each value row is read once for all of them.
        for set in live[..n_live].chunks(VALUE_LANES) {
            let mut qis = [0usize; VALUE_LANES];
            let mut keys = [(0usize, 0usize); VALUE_LANES];
            for (x, &l) in set.iter().enumerate() {
                qis[x] = l0 + l;
                keys[x] = (llo[l], lhi[l]);
            }
            let values = t.v;
            let mut c0 = 0;
            while c0 < d {
                let wide = c0 + 2 * LANES <= d;
                let mut outs = [[0f32; 2 * LANES]; VALUE_LANES];
                if wide {
                    outs = weighted_lanes::<{ 2 * LANES }>(scores, lanes, first, &qis, &keys, values, d, c0);
                } else {
                    for (o, x) in outs.iter_mut().zip(weighted_lanes::<LANES>(scores, lanes, first, &qis, &keys, values, d, c0)) {
                        o[..LANES].copy_from_slice(&x);
                    }
                }
                let n = if wide { 2 * LANES } else { LANES };
                for (x, o) in outs.iter().enumerate().take(set.len()) {
                    let (r, h) = (qis[x] / group, qis[x] % group);
                    parts[r * width + h * (d + 2) + 2 + c0..][..n].copy_from_slice(&o[..n]);
                }
                c0 += n;
            }
        }
    }
}

/// `live` in groups of at most `most`, as even as they can be (six lanes: three and three, not five
/// and one), as a group of the value sweep costs what its widest size does.
fn even_groups(live: &[usize], most: usize) -> impl Iterator<Item = &[usize]> {
    let groups = live.len().div_ceil(most);
    let mut at = 0;
    (0..groups).map(move |gi| {
        let n = live.len() / groups + usize::from(gi < live.len() % groups);
        at += n;
        &live[at - n..at]
    })
}

/// The cache's keys and values `PF_KEYS` ahead of `j` into L1: the lanes kernel's four keys at a
/// time defeat the hardware prefetcher (a 4-row pass over 30 layers × 2,900 cached f32 keys took
/// 19.6 ms on one thread without this and 11.9 with it).
#[inline(always)]
fn ahead(s: &Shared, base: usize, j: usize, m: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let d = s.d;
        let size = std::mem::size_of::<f16>();
        for at in ((base + j + PF_KEYS) * d * size..(base + j + PF_KEYS + m) * d * size).step_by(64) {
            // SAFETY: a prefetch never faults; the address may lie past the cache.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>((s.k.as_ptr() as *const i8).wrapping_add(at));
                _mm_prefetch::<_MM_HINT_T0>((s.v.as_ptr() as *const i8).wrapping_add(at));
            }
        }
    }
}
const PF_KEYS: usize = 16;

/// One block of keys (`blk`) for one KV head and its group of query heads, for passes of up to
/// [`ROW_BY_ROW`] rows: writes `[m, l, acc(d)]` per head of each row into `parts`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn block_body<const F16C: bool>(s: &Shared, bi: usize, g: usize, rows: std::ops::Range<usize>, blk: usize, parts: &mut [f32], kb: &mut [f32], vb: &mut [f32], scores: &mut [f32]) {
    let d = s.d;
    let width = s.group * (d + 2);
    let base = (bi * s.heads.kv + g) * s.capacity;
    let first = blk * BLOCK;
    for part in parts.chunks_exact_mut(width).take(rows.len()) {
        for p in part.chunks_exact_mut(d + 2) {
            p.fill(0.0);
            p[0] = f32::NEG_INFINITY;
        }
    }
    #[cfg(target_arch = "x86_64")]
    if F16C {
        // SAFETY: only variants compiled with AVX2, FMA and F16C pass `F16C`; `d` is a multiple of 16.
        // (No closure here: it would not take the variant's target features.)
        unsafe { rows_f16c(s, bi, g, base, rows, first, parts, scores.as_chunks_mut::<BLOCK>().0) };
        return;
    }
    let scores = scores.as_chunks_mut::<BLOCK>().0;
    for (r, i) in rows.clone().enumerate() {
        let part = &mut parts[r * width..(r + 1) * width];
        let (rlo, rhi) = s.keys(bi, i);
        let (a, e) = (rlo.max(first), rhi.min(first + BLOCK));
        if a >= e {
            continue;
        }
        let (ca, ce) = (a - first, e - first);
        let q0 = ((bi * s.rows + i) * s.heads.q + g * s.group) * d;
        let qs = &s.q[q0..q0 + s.group * d];
        for j in a..e {
            let at = (j - first) * d..(j - first + 1) * d;
            widen(&s.v[(base + j) * d..][..d], &mut vb[at.clone()], false);
            widen(&s.k[(base + j) * d..][..d], &mut kb[at.clone()], false);
            let k = &kb[at];
            for (h, q) in qs.chunks_exact(d).enumerate() {
                scores[h][j - first] = dot(q, k) * s.heads.scale;
            }
        }
        let vrows = &vb[ca * d..ce * d];
        for h in 0..s.group {
            let (m, l) = softmax_block(&mut scores[h], ca, ce, s.heads.softcap);
            let out = &mut part[h * (d + 2)..(h + 1) * (d + 2)];
            out[0] = m;
            out[1] = l;
            let ps = &scores[h][ca..ce];
            weighted_all(|t| ps[t], ce - ca, a, vrows, d, &mut out[2..]);
        }
    }
}

/// A head's scores at `ca..ce` of its block turned into `exp(x - max)` in place; `(max, sum)`,
/// the sum in sixteen lanes by key position (the lanes kernel sums alike).
#[inline(always)]
fn softmax_block(row: &mut [f32; BLOCK], ca: usize, ce: usize, softcap: f32) -> (f32, f32) {
    let live = &mut row[ca..ce];
    if softcap > 0.0 {
        for x in live.iter_mut() {
            *x = softcap * (*x / softcap).tanh();
        }
    }
    let m = live.iter().fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    for x in live.iter_mut() {
        *x = exp_nonpositive(*x - m);
    }
    let (w0, w1) = (ca / LANES * LANES, ce.div_ceil(LANES) * LANES);
    row[w0..ca].fill(0.0);
    row[ce..w1].fill(0.0);
    let mut sums = [0f32; LANES];
    for c in row[w0..w1].chunks_exact(LANES) {
        let c: &[f32; LANES] = c.try_into().expect("a lane group");
        for l in 0..LANES {
            sums[l] += c[l];
        }
    }
    (m, reduce(sums))
}

/// Query heads (of one row or several) scored together in [`rows_f16c`], and weighted together:
/// their chains stay in registers (AVX2 has 16).
const SCORED_AT_ONCE: usize = 6;
const WEIGHTED_AT_ONCE: usize = 3;

/// A block (starting at key `first`) for passes of up to [`ROW_BY_ROW`] rows, for the vector
/// variants, straight from the half-precision cache: each key is widened once for all the rows'
/// query heads and scored eight keys at a time, their sums reduced together ([`reduce8`]); each
/// value row is widened once per sixteen dimensions for three heads of a row. The products, chains
/// and trees are [`dot`]'s and [`weighted`]'s, so the bits are the lanes kernel's. Keys and values
/// are fetched into L2 while the scores are computed, so reading the cache overlaps the work (see
/// [`fetch`]). `scores` holds a block per head of each row.
///
/// # Safety
/// The CPU has AVX2, FMA and F16C; `s.d` is a multiple of 16.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn rows_f16c(s: &Shared, bi: usize, g: usize, base: usize, rows: std::ops::Range<usize>, first: usize, parts: &mut [f32], scores: &mut [[f32; BLOCK]]) {
    let (d, group, scale) = (s.d, s.group, s.heads.scale);
    let width = group * (d + 2);
    // Each row's keys in this block, and all of them (a row's scores past its own keys are
    // computed and never read).
    // (An array, not a Vec: this runs for every block of every step.)
    assert!(rows.len() <= ROW_BY_ROW);
    let mut spans = [(0usize, 0usize); ROW_BY_ROW];
    for (span, i) in spans.iter_mut().zip(rows.clone()) {
        let (lo, hi) = s.keys(bi, i);
        *span = (lo.max(first), hi.min(first + BLOCK));
    }
    let spans = &spans[..rows.len()];
    let (a, e) = spans.iter().filter(|(a, e)| a < e).fold((usize::MAX, 0), |(a, e), &(x, y)| (a.min(x), e.max(y)));
    if a >= e {
        return;
    }
    let keys = &s.k[(base + a) * d..(base + e) * d];
    let values = &s.v[(base + a) * d..(base + e) * d];
    let (ca, n) = (a - first, e - a);
    let heads = rows.len() * group;
    let query = |x: usize| -> &[f32] {
        let at = ((bi * s.rows + rows.start + x / group) * s.heads.q + g * group + x % group) * d;
        &s.q[at..at + d]
    };
    let mut h0 = 0;
    while h0 < heads {
        let m = (heads - h0).min(SCORED_AT_ONCE);
        let rows = &mut scores[h0..h0 + m];
        let mut t = 0;
        while t + 8 <= n {
            if h0 == 0 {
                // Into L2 (L1 is too small for a block's keys and values): the keys a little
                // ahead, the values for the weighting after the scores.
                fetch::<{ L2 }>(keys, (t + PF_ROW) * d, 8 * d);
                fetch::<{ L2 }>(values, t * d, 8 * d);
            }
            let k = &keys[t * d..];
            // SAFETY: the caller's features; eight keys from `t` lie in `keys`.
            unsafe {
                match m {
                    6 => scores8::<6>(std::array::from_fn(|x| query(h0 + x)), k, d, scale, rows, ca + t),
                    5 => scores8::<5>(std::array::from_fn(|x| query(h0 + x)), k, d, scale, rows, ca + t),
                    4 => scores8::<4>(std::array::from_fn(|x| query(h0 + x)), k, d, scale, rows, ca + t),
                    3 => scores8::<3>(std::array::from_fn(|x| query(h0 + x)), k, d, scale, rows, ca + t),
                    2 => scores8::<2>(std::array::from_fn(|x| query(h0 + x)), k, d, scale, rows, ca + t),
                    _ => scores8::<1>(std::array::from_fn(|x| query(h0 + x)), k, d, scale, rows, ca + t),
                }
            }
            t += 8;
        }
        for t in t..n {
            for (h, row) in rows.iter_mut().enumerate() {
                // SAFETY: the caller's features.
                row[ca + t] = unsafe { dot_f16c(query(h0 + h), &keys[t * d..(t + 1) * d]) } * scale;
            }
        }
        h0 += m;
    }
    fetch::<{ L1 }>(values, 0, SUB.min(n) * d);
    for (r, &(ra, re)) in spans.iter().enumerate() {
        if ra >= re {
            continue;
        }
        let (rca, rn) = (ra - first, re - ra);
        let part = &mut parts[r * width..(r + 1) * width];
        let ps = &mut scores[r * group..(r + 1) * group];
        for (h, row) in ps.iter_mut().enumerate() {
            let (m, l) = softmax_block(row, rca, rca + rn, s.heads.softcap);
            part[h * (d + 2)] = m;
            part[h * (d + 2) + 1] = l;
        }
        let v = &values[(ra - a) * d..];
        let mut h0 = 0;
        while h0 < group {
            let m = (group - h0).min(WEIGHTED_AT_ONCE);
            let ps = &ps[h0..h0 + m];
            let out = &mut part[h0 * (d + 2)..(h0 + m) * (d + 2)];
            // SAFETY: the caller's features.
            unsafe {
                match m {
                    3 => weighted_f16c::<3>(ps, rca, rn, ra, v, d, out),
                    2 => weighted_f16c::<2>(ps, rca, rn, ra, v, d, out),
                    _ => weighted_f16c::<1>(ps, rca, rn, ra, v, d, out),
                }
            }
            h0 += m;
        }
    }
}

/// Keys ahead of the one-row kernel's reads.
const PF_ROW: usize = 16;

/// Prefetch hints for [`fetch`].
const L1: i32 = 3;
const L2: i32 = 2;

/// `n` halves of `x` from `at` on into cache level `HINT` (a prefetch never faults; past the end is
/// harmless). Streaming the cache, keys and values fetched into L2 as the scores are computed took
/// the one-row kernel from 9.5–10.1 to 7.4–7.6 ms (`tests::timing`, one row, one thread); into L1
/// they evicted each other (8.5–9.0).
#[inline(always)]
fn fetch<const HINT: i32>(x: &[f16], at: usize, n: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::_mm_prefetch;
        let p = x.as_ptr() as *const i8;
        for b in (at * 2..(at + n) * 2).step_by(64) {
            // SAFETY: a prefetch never faults.
            unsafe { _mm_prefetch::<HINT>(p.wrapping_add(b)) };
        }
    }
}

/// Scores of eight keys (`k`, `8 × d` from its start) for `G` heads' queries (`q`, `d` each), times
/// `scale`, into `rows[h][at..at + 8]`: [`dot_f16c`]'s chains per key and head, each key widened
/// once for all `G`.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::needless_range_loop)]
#[inline(always)]
unsafe fn scores8<const G: usize>(q: [&[f32]; G], k: &[f16], d: usize, scale: f32, rows: &mut [[f32; BLOCK]], at: usize) {
    use std::arch::x86_64::*;
    assert!(q.iter().all(|q| q.len() >= d) && k.len() >= 8 * d && rows.len() >= G && at + 8 <= BLOCK && d.is_multiple_of(LANES));
    unsafe {
        let mut x = [[_mm256_setzero_ps(); 8]; G];
        for t in 0..8 {
            let kt = k.as_ptr().add(t * d);
            let (mut lo, mut hi) = ([_mm256_setzero_ps(); G], [_mm256_setzero_ps(); G]);
            let mut c = 0;
            while c < d {
                let kl = _mm256_cvtph_ps(_mm_loadu_si128(kt.add(c) as *const _));
                let kh = _mm256_cvtph_ps(_mm_loadu_si128(kt.add(c + 8) as *const _));
                for h in 0..G {
                    lo[h] = _mm256_fmadd_ps(_mm256_loadu_ps(q[h].as_ptr().add(c)), kl, lo[h]);
                    hi[h] = _mm256_fmadd_ps(_mm256_loadu_ps(q[h].as_ptr().add(c + 8)), kh, hi[h]);
                }
                c += LANES;
            }
            for h in 0..G {
                x[h][t] = _mm256_add_ps(lo[h], hi[h]);
            }
        }
        let scale = _mm256_set1_ps(scale);
        for h in 0..G {
            _mm256_storeu_ps(rows[h].as_mut_ptr().add(at), _mm256_mul_ps(reduce8(&x[h]), scale));
        }
    }
}

/// [`reduce`]'s tree (lanes `l + 4`, then `l + 2`, then `l + 1`) for eight keys' eight-lane sums at
/// once: the same additions of the same pairs, in shuffles across keys, the results in key order.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn reduce8(x: &[std::arch::x86_64::__m256; 8]) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    unsafe {
        // Keys t and t + 4 in the two halves: [s0..s3 of t | s0..s3 of t + 4], s_l = x_l + x_{l+4}.
        let y: [__m256; 4] = std::array::from_fn(|t| _mm256_add_ps(_mm256_permute2f128_ps::<0x20>(x[t], x[t + 4]), _mm256_permute2f128_ps::<0x31>(x[t], x[t + 4])));
        // u0 = s0 + s2, u1 = s1 + s3: [u0, u1 of t, u0, u1 of t + 1 | the same of t + 4, t + 5].
        let z0 = _mm256_add_ps(_mm256_shuffle_ps::<0b01_00_01_00>(y[0], y[1]), _mm256_shuffle_ps::<0b11_10_11_10>(y[0], y[1]));
        let z1 = _mm256_add_ps(_mm256_shuffle_ps::<0b01_00_01_00>(y[2], y[3]), _mm256_shuffle_ps::<0b11_10_11_10>(y[2], y[3]));
        // u0 + u1: [keys 0, 1, 2, 3 | 4, 5, 6, 7].
        _mm256_add_ps(_mm256_shuffle_ps::<0b10_00_10_00>(z0, z1), _mm256_shuffle_ps::<0b11_01_11_01>(z0, z1))
    }
}

/// [`weighted`] for `G` heads over a half-precision block (`v`, `n × d`, its first key at absolute
/// position `first`; weights `ps[h][ca..ca + n]`) into each head's `out[h·(d + 2) + 2..]`: per
/// sixteen dimensions, even and odd keys in two chains per head and half, each value row widened
/// once for all `G`. Keys go in runs of [`SUB`], every dimension's chains kept in memory between
/// runs, so a run's rows are read from memory once and the next run's are fetched meanwhile.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn weighted_f16c<const G: usize>(ps: &[[f32; BLOCK]], ca: usize, n: usize, first: usize, v: &[f16], d: usize, out: &mut [f32]) {
    use std::arch::x86_64::*;
    assert!(ps.len() >= G && ca + n <= BLOCK && v.len() >= n * d && out.len() >= G * (d + 2) && d.is_multiple_of(LANES) && d <= MAX_HEAD);
    unsafe {
        let zero = _mm256_setzero_ps();
        // [chunk][head][even, odd][half]
        let mut chains = [[[[zero; 2]; 2]; G]; MAX_HEAD / LANES];
        let chunks = d / LANES;
        let mut t0 = 0;
        while t0 < n {
            let t1 = (t0 + SUB).min(n);
            fetch::<{ L1 }>(v, t1 * d, SUB * d);
            for (ci, ch) in chains.iter_mut().enumerate().take(chunks) {
                let c = ci * LANES;
                let (mut even, mut odd): ([[__m256; 2]; G], [[__m256; 2]; G]) = (std::array::from_fn(|h| ch[h][0]), std::array::from_fn(|h| ch[h][1]));
                let mut t = t0;
                if (first + t) & 1 == 1 {
                    fma_f16c::<G>(&mut odd, ps, ca, t, v.as_ptr().add(t * d + c));
                    t += 1;
                }
                while t + 1 < t1 {
                    fma_f16c::<G>(&mut even, ps, ca, t, v.as_ptr().add(t * d + c));
                    fma_f16c::<G>(&mut odd, ps, ca, t + 1, v.as_ptr().add((t + 1) * d + c));
                    t += 2;
                }
                if t < t1 {
                    fma_f16c::<G>(&mut even, ps, ca, t, v.as_ptr().add(t * d + c));
                }
                for h in 0..G {
                    ch[h] = [even[h], odd[h]];
                }
            }
            t0 = t1;
        }
        for (ci, ch) in chains.iter().enumerate().take(chunks) {
            for (h, [even, odd]) in ch.iter().enumerate() {
                let o = out.as_mut_ptr().add(h * (d + 2) + 2 + ci * LANES);
                _mm256_storeu_ps(o, _mm256_add_ps(even[0], odd[0]));
                _mm256_storeu_ps(o.add(8), _mm256_add_ps(even[1], odd[1]));
            }
        }
    }
}

/// Keys a run of [`weighted_f16c`] takes: their value rows stay in L1 for all of the run's passes.
const SUB: usize = 32;

/// `acc[h] += ps[h][ca + t] · v[..16]` for `G` heads, `v` widened once.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::needless_range_loop)]
#[inline(always)]
unsafe fn fma_f16c<const G: usize>(acc: &mut [[std::arch::x86_64::__m256; 2]; G], ps: &[[f32; BLOCK]], ca: usize, t: usize, v: *const f16) {
    use std::arch::x86_64::*;
    unsafe {
        let lo = _mm256_cvtph_ps(_mm_loadu_si128(v as *const _));
        let hi = _mm256_cvtph_ps(_mm_loadu_si128(v.add(8) as *const _));
        for h in 0..G {
            let w = _mm256_broadcast_ss(ps.get_unchecked(h).get_unchecked(ca + t));
            acc[h][0] = _mm256_fmadd_ps(w, lo, acc[h][0]);
            acc[h][1] = _mm256_fmadd_ps(w, hi, acc[h][1]);
        }
    }
}

/// The operator ONNX Runtime calls for switched `GroupQueryAttention` nodes (in [`super::DOMAIN`]).
pub struct GroupQueryAttention;

impl Operator for GroupQueryAttention {
    type Kernel<'attr> = BoxedKernel<'attr>;

    fn name(&self) -> &str {
        "GroupQueryAttention"
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        use TensorElementType::{Float16, Float32, Int32};
        [
            OperatorInput::required(Float32),
            OperatorInput::optional(Float32),
            OperatorInput::optional(Float32),
            OperatorInput::optional(Float16),
            OperatorInput::optional(Float16),
            OperatorInput::required(Int32),
            OperatorInput::required(Int32),
            OperatorInput::optional(Float32),
            OperatorInput::optional(Float32),
        ]
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        use TensorElementType::{Float16, Float32};
        [OperatorOutput::required(Float32), OperatorOutput::required(Float16), OperatorOutput::required(Float16)]
    }

    fn create_kernel<'attr>(&self, k: &KernelContext<'attr>) -> ort::Result<Self::Kernel<'attr>> {
        let q = k.get::<i64>("num_heads").unwrap_or(0).max(0) as usize;
        let kv = k.get::<i64>("kv_num_heads").unwrap_or(0).max(0) as usize;
        let heads = Heads {
            q,
            kv,
            scale: k.get::<f32>("scale").unwrap_or(0.0),
            softcap: k.get::<f32>("softcap").unwrap_or(0.0),
            window: k.get::<i64>("local_window_size").filter(|&w| w >= 0).map(|w| w as usize),
            interleaved: k.get::<i64>("rotary_interleaved").unwrap_or(0) != 0,
            rotary: k.get::<i64>("do_rotary").unwrap_or(0) != 0,
        };
        Ok(Box::new(move |ctx: &ComputeContext| compute(&heads, ctx)))
    }
}

fn missing(what: &str) -> ort::Error {
    ort::Error::new(format!("GroupQueryAttention: no {what}"))
}

fn compute(heads: &Heads, ctx: &ComputeContext) -> ort::Result<()> {
    let input = |i: usize| ctx.input(i);
    let query = input(0)?.ok_or_else(|| missing("query"))?;
    let (qshape, qdata) = query.try_extract_tensor::<f32>()?;
    let key = input(1)?;
    let value = input(2)?;
    let past_key = input(3)?.ok_or_else(|| missing("past key"))?;
    let past_value = input(4)?.ok_or_else(|| missing("past value"))?;
    let seqlens = input(5)?.ok_or_else(|| missing("seqlens_k"))?;
    let total = input(6)?.ok_or_else(|| missing("total_sequence_length"))?;
    let cos = input(7)?;
    let sin = input(8)?;
    let (pshape, _) = past_key.try_extract_tensor::<f16>()?;
    let (b, s) = (qshape[0] as usize, qshape[1] as usize);
    let d = pshape[3] as usize;
    let past_capacity = pshape[2] as usize;
    let total = *total.try_extract_tensor::<i32>()?.1.first().ok_or_else(|| missing("total length"))? as usize;
    let lengths: Vec<usize> = seqlens.try_extract_tensor::<i32>()?.1.iter().map(|&x| (x.max(-1) + 1) as usize).collect();
    let capacity = past_capacity.max(total);
    let mut h = *heads;
    if h.scale == 0.0 {
        h.scale = 1.0 / (d as f32).sqrt();
    }
    let (cos_data, rot_half) = match &cos {
        Some(c) => {
            let (shape, data) = c.try_extract_tensor::<f32>()?;
            (data, shape.get(1).copied().unwrap_or(0) as usize)
        }
        None => (&[][..], 0),
    };
    let sin_data = match &sin {
        Some(c) => c.try_extract_tensor::<f32>()?.1,
        None => &[][..],
    };
    let key_data = match &key {
        Some(k) => Some(k.try_extract_tensor::<f32>()?.1),
        None => None,
    };
    let value_data = match &value {
        Some(v) => Some(v.try_extract_tensor::<f32>()?.1),
        None => None,
    };
    let shape = [b as i64, h.kv as i64, capacity as i64, d as i64];
    let mut out = ctx.output(0, [b as i64, s as i64, (h.q * d) as i64])?.ok_or_else(|| missing("output"))?;
    let mut pk = ctx.output(1, shape)?.ok_or_else(|| missing("present key"))?;
    let mut pv = ctx.output(2, shape)?.ok_or_else(|| missing("present value"))?;
    let (_, out) = out.try_extract_tensor_mut::<f32>()?;
    let (_, pk) = pk.try_extract_tensor_mut::<f16>()?;
    let (_, pv) = pv.try_extract_tensor_mut::<f16>()?;
    // The cache shared with the past (kogi binds one buffer to both) needs no copy; otherwise the
    // past rows are carried over first.
    for (past, present) in [(&past_key, &mut *pk), (&past_value, &mut *pv)] {
        let (_, src) = past.try_extract_tensor::<f16>()?;
        if src.as_ptr() != present.as_ptr() && !src.is_empty() {
            for bh in 0..b * h.kv {
                let n = past_capacity.min(capacity) * d;
                present[bh * capacity * d..][..n].copy_from_slice(&src[bh * past_capacity * d..][..n]);
            }
        }
    }
    let pass = Pass { batch: b, rows: s, head_dim: d, query: qdata, key: key_data, value: value_data, lengths: &lengths, cos: cos_data, sin: sin_data, rot_half };
    let par = |n: usize, f: &(dyn Fn(usize) + Sync)| super::on_pool(ctx, n, f);
    attend(&h, &pass, pk, pv, capacity, out, &par).map_err(ort::Error::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook computation: every query head against its KV head's keys 0..=pos.
    fn reference(h: &Heads, p: &Pass, k: &[f16], v: &[f16], capacity: usize) -> Vec<f32> {
        let (b, s, d) = (p.batch, p.rows, p.head_dim);
        let mut q = vec![0f32; b * s * h.q * d];
        let stride = (h.q + 2 * h.kv) * d;
        let half = p.rot_half;
        let mut out = vec![0f32; b * s * h.q * d];
        for bi in 0..b {
            let past = p.lengths[bi] - s;
            for i in 0..s {
                let pos = past + i;
                for hh in 0..h.q {
                    let x = &mut q[((bi * s + i) * h.q + hh) * d..][..d];
                    x.copy_from_slice(&p.query[(bi * s + i) * stride + hh * d..][..d]);
                    rotate(x, &p.cos[pos * half..(pos + 1) * half], &p.sin[pos * half..(pos + 1) * half], h.interleaved);
                    let g = hh / (h.q / h.kv);
                    let scores: Vec<f64> = (0..=pos)
                        .map(|j| x.iter().zip(&k[((bi * h.kv + g) * capacity + j) * d..][..d]).map(|(a, b)| (*a as f64) * (b.to_f64())).sum::<f64>() * h.scale as f64)
                        .collect();
                    let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = scores.iter().map(|x| (x - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for dd in 0..d {
                        let y: f64 = (0..=pos).map(|j| e[j] * v[((bi * h.kv + g) * capacity + j) * d + dd].to_f64()).sum::<f64>() / z;
                        out[((bi * s + i) * h.q + hh) * d + dd] = y as f32;
                    }
                }
            }
        }
        out
    }

    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn serial(n: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..n).for_each(f)
    }

    fn rotary(positions: usize, half: usize) -> (Vec<f32>, Vec<f32>) {
        let mut cos = Vec::new();
        let mut sin = Vec::new();
        for p in 0..positions {
            for j in 0..half {
                let a = p as f32 / 10000f32.powf(j as f32 / half as f32);
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        (cos, sin)
    }

    /// A prompt of `prompt` tokens, then further tokens one at a time, two at a time and all at
    /// once: every output against the reference, and a row of a multi-row pass equal whatever pass
    /// it is in (what exact two-row greedy and speculative verification rely on). Seven rows of three
    /// heads fill two lane sets with a row across them; prompts of even and odd length, and a
    /// sliding window, start the keys at both parities.
    #[test]
    fn grouped_heads_match_the_textbook_attention_and_a_row_does_not_depend_on_its_pass() {
        // Heads of 64 in groups of 3 (SmolLM2), of 128 in groups of 6 (Qwen2-1.5B), of 48 (no
        // specialised kernel).
        for (prompt, steps, window, d, q) in [(600, 4, None, 64, 6), (601, 7, None, 64, 6), (600, 7, Some(300), 64, 6), (255, 6, Some(100), 64, 6), (601, 5, None, 128, 12), (300, 3, None, 48, 6)] {
            let h = Heads { q, kv: 2, scale: 0.125, softcap: 0.0, window, interleaved: false, rotary: true };
            let capacity = 700;
            let (cos, sin) = rotary(capacity, d / 2);
            let width = (h.q + 2 * h.kv) * d;
            let tokens = noise((prompt + steps) * width, 7);
            let run = |k: &mut Vec<f16>, v: &mut Vec<f16>, from: usize, n: usize| {
                let mut out = vec![0f32; n * h.q * d];
                let lengths = [from + n];
                let pass = Pass { batch: 1, rows: n, head_dim: d, query: &tokens[from * width..(from + n) * width], key: None, value: None, lengths: &lengths, cos: &cos, sin: &sin, rot_half: d / 2 };
                attend(&h, &pass, k, v, capacity, &mut out, &serial).unwrap();
                if window.is_none() {
                    let want = reference(&h, &pass, k, v, capacity);
                    let worst = out.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                    assert!(worst < 2e-5, "{n} rows from {from}: off by {worst}");
                }
                out
            };
            let fresh = || (vec![f16::ZERO; h.kv * capacity * d], vec![f16::ZERO; h.kv * capacity * d]);
            let (mut k1, mut v1) = fresh();
            run(&mut k1, &mut v1, 0, prompt);
            let ones: Vec<f32> = (0..steps).flat_map(|i| run(&mut k1, &mut v1, prompt + i, 1)).collect();
            let (mut k2, mut v2) = fresh();
            run(&mut k2, &mut v2, 0, prompt);
            let mut pairs = Vec::new();
            for i in (0..steps).step_by(2) {
                pairs.extend(run(&mut k2, &mut v2, prompt + i, 2.min(steps - i)));
            }
            let (mut k3, mut v3) = fresh();
            run(&mut k3, &mut v3, 0, prompt);
            let all = run(&mut k3, &mut v3, prompt, steps);
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&pairs), bits(&all), "prompt {prompt}, {steps} rows: a row's result depends on the pass it is in");
            assert_eq!(bits(&ones), bits(&all), "prompt {prompt}, {steps} rows: a one-row step rounds differently from a row of a longer step");
            assert_eq!(k1, k3);
        }
    }

    /// [`pick_kernel`] may pair one variant's one-row kernel with another's lanes kernel (Zen 4), so
    /// every variant this CPU runs must give the same bits as the portable one, in steps and passes.
    #[test]
    fn every_variant_this_cpu_runs_gives_the_portable_bits() {
        let mut variants = vec![("plain", BlockKernel(block_plain, tile_plain))];
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("f16c");
            if avx2 {
                variants.push(("avx2", BlockKernel(block_avx2, tile_avx2)));
            }
            if std::arch::is_x86_feature_detected!("avx512f") && avx2 {
                variants.push(("avx512", BlockKernel(block_avx512, tile_avx512)));
            }
        }
        // Groups of 3, 6, 4 and 5 query heads (the one-row kernel takes three at a time); windows
        // that start blocks' keys at odd positions.
        for (prompt, d, q, window) in [(601, 64, 6, None), (300, 128, 12, None), (411, 64, 8, Some(37)), (333, 32, 10, Some(300))] {
            let h = Heads { q, kv: 2, scale: 0.125, softcap: 0.0, window, interleaved: false, rotary: true };
            let capacity = 700;
            let (cos, sin) = rotary(capacity, d / 2);
            let width = (h.q + 2 * h.kv) * d;
            let tokens = noise((prompt + 16) * width, 3);
            let outputs: Vec<Vec<u32>> = variants.iter().map(|&(_, kernel)| {
                let (mut k, mut v) = (vec![f16::ZERO; h.kv * capacity * d], vec![f16::ZERO; h.kv * capacity * d]);
                let mut all = Vec::new();
                // The prompt by the portable kernel, so every variant starts from the same cache.
                let mut from = 0;
                for (n, kern) in [(prompt, BlockKernel(block_plain, tile_plain)), (1, kernel), (2, kernel), (5, kernel), (1, kernel), (7, kernel)] {
                    let mut out = vec![0f32; n * h.q * d];
                    let lengths = [from + n];
                    let pass = Pass { batch: 1, rows: n, head_dim: d, query: &tokens[from * width..(from + n) * width], key: None, value: None, lengths: &lengths, cos: &cos, sin: &sin, rot_half: d / 2 };
                    attend_with(kern, &h, &pass, &mut k, &mut v, capacity, &mut out, &serial).unwrap();
                    all.extend(out.iter().map(|x| x.to_bits()));
                    from += n;
                }
                all
            }).collect();
            for (o, (name, _)) in outputs.iter().zip(&variants).skip(1) {
                assert!(o == &outputs[0], "heads of {d}, {q} query heads: the {name} kernels round differently from the portable ones");
            }
        }
    }

    /// A SmolLM2 step's attention (30 layers of 9 query and 3 KV heads of 64, 2,900 cached keys) for
    /// passes of 1–9 rows, one thread (`LAYERS=1`: one layer's cache thirty times, compute alone; `ROWS=n,m`: those rows only, 20 times, for `perf`):
    /// `cargo test --release -p kogi-core --lib attention::tests::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn timing() {
        let h = Heads { q: 9, kv: 3, scale: 0.125, softcap: 0.0, window: None, interleaved: false, rotary: true };
        let (d, cached, layers, capacity) = (64, 2900, 30, 2900 + MAX_STEP_ROWS);
        let (cos, sin) = rotary(capacity, d / 2);
        let width = (h.q + 2 * h.kv) * d;
        let distinct = std::env::var("LAYERS").map_or(layers, |x| x.parse().expect("LAYERS: a number"));
        let halves = |x: Vec<f32>| x.into_iter().map(f16::from_f32).collect::<Vec<f16>>();
        let mut caches: Vec<(Vec<f16>, Vec<f16>)> = (0..distinct).map(|l| (halves(noise(h.kv * capacity * d, 11 + l as u64)), halves(noise(h.kv * capacity * d, 99 + l as u64)))).collect();
        let tokens = noise(MAX_STEP_ROWS * width, 5);
        let only: Option<Vec<usize>> = std::env::var("ROWS").ok().map(|x| x.split(',').map(|r| r.parse().expect("ROWS: numbers")).collect());
        for rows in only.clone().unwrap_or((1..=9).collect()) {
            let mut out = vec![0f32; rows * h.q * d];
            let lengths = [cached + rows];
            let pass = Pass { batch: 1, rows, head_dim: d, query: &tokens[..rows * width], key: None, value: None, lengths: &lengths, cos: &cos, sin: &sin, rot_half: d / 2 };
            let mut times = Vec::new();
            for _ in 0..if only.is_some() { 20 } else { 7 } {
                let t = std::time::Instant::now();
                for l in 0..layers {
                    let (k, v) = &mut caches[l % distinct];
                    attend(&h, &pass, k, v, capacity, &mut out, &serial).unwrap();
                }
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(f64::total_cmp);
            println!("{rows} rows: {:.2} ms (min {:.2})", times[times.len() / 2], times[0]);
        }
    }

    #[test]
    fn rows_that_fill_the_last_lane_set_are_the_most_for_the_same_sets() {
        // Three heads a row (SmolLM2): sets of sixteen lanes are full at 5, 10, 16 and 21 rows.
        let filled: Vec<usize> = (1..=22).map(|r| rows_filling_lanes(r, 3)).collect();
        assert_eq!(filled, [1, 2, 5, 5, 5, 10, 10, 10, 10, 10, 16, 16, 16, 16, 16, 16, 21, 21, 21, 21, 21, 26]);
        // Six (Qwen2-1.5B): 8 rows fill three sets, 9 need a fourth.
        assert_eq!((rows_filling_lanes(8, 6), rows_filling_lanes(9, 6)), (8, 10));
        // Filling never passes the lanes kernel's largest pass.
        assert_eq!(rows_filling_lanes(MAX_STEP_ROWS, 3), MAX_STEP_ROWS);
        for rows in 1..=MAX_STEP_ROWS {
            for group in 1..=MAX_GROUP {
                let f = rows_filling_lanes(rows, group);
                assert!(f >= rows && f <= MAX_STEP_ROWS.max(rows), "{rows} rows of {group}");
                if rows > ROW_BY_ROW {
                    assert_eq!((f * group).div_ceil(LANES), (rows * group).div_ceil(LANES), "{rows} rows of {group}: same sets");
                }
            }
        }
    }

    #[test]
    fn heads_that_do_not_divide_are_refused() {
        let h = Heads { q: 5, kv: 2, scale: 1.0, softcap: 0.0, window: None, interleaved: false, rotary: false };
        let pass = Pass { batch: 1, rows: 1, head_dim: 4, query: &[0.0; 36], key: None, value: None, lengths: &[1], cos: &[], sin: &[], rot_half: 0 };
        let err = attend(&h, &pass, &mut [f16::ZERO; 8], &mut [f16::ZERO; 8], 1, &mut [0.0; 20], &serial).unwrap_err();
        assert!(err.contains("cannot share"), "{err}");
    }
}

