//! kogi's own CPU kernel for the decoder's `MatMulNBits` nodes: 4- and 8-bit weights in blocks of
//! 16 or 32 (Q6_K's sixteen become 8-bit blocks of 16) with int8 activations (ONNX Runtime's `accuracy_level` 4; llama.cpp computes the same way).
//! Two reasons to have it: prompt passes are mostly these products (75% of a 283-token prompt's
//! kernel time in ONNX Runtime's), and ONNX Runtime's kernel rounds a row differently depending on
//! how many rows the pass has, which made exact decoding pay for two-row steps. Here a row's
//! result never depends on the other rows: each activation row is quantised on its own (a scale per
//! 32 inputs, or per 256 for K-quant nodes), every weight block's integer dot product is exact, and
//! each output is the same chain of float operations in block order, whatever the pass's size.
//!
//! Weights are repacked once, when ONNX Runtime creates the node's kernel, so that one 512-bit
//! register holds four consecutive weights of sixteen columns: a broadcast of four activation bytes
//! then feeds sixteen columns' dot products at once (`vpdpbusd`, weights as the unsigned side), every
//! lane ends as one output, and a column's zero point costs one operation per block against the
//! block's sum of activations instead of a subtraction per weight.
//!
//! Scales and minimums are kept as compactly as they can be given back bit for bit: half precision
//! (Q4_0, Q4_1, Q8_0), or a base per super-block of 256 weights times one byte per block (the
//! K-quants), found by factoring the f32 values at load; `KOGI_FACTORS=full` keeps them in f32.
//! K-quant nodes then compute as llama.cpp's Q4_K × Q8_K does: activations scaled per super-block,
//! each block's dot product times its integer scale added up over the super-block, one multiply by
//! the base and activation scale per super-block, the minimums' share as integers (`vpdpwssd`); their
//! factors travel in one buffer beside the codes ([`Side`]).
//! 8-bit nodes whose codes all fit in six bits (Q6_K's) keep six: the low four as 4-bit nodes do,
//! the top two of sixteen weights in one more register (`KOGI_CODES=bytes` keeps eight).
//!
//! Semantics are ONNX Runtime's com.microsoft `MatMulNBits` (`B` as `[n][k/b][b·bits/8]` for blocks of
//! `b`, low nibble first; scales `[n][k/b]`; optional packed uint8 zero points, default `2^(bits−1)`).
//! Nodes are switched to this kernel when kogi opens a float32 decoder on a CPU with AVX-512 VNNI
//! (`KOGI_MATMUL=onnxruntime` keeps ONNX Runtime's; [`super::graph::with_own_kernels`]); the file
//! stays as it is.

use ort::operator::{BoxedKernel, ComputeContext, KernelContext, Operator, OperatorInput, OperatorOutput};
use ort::value::TensorElementType;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use super::pages::Pages;

/// Weights per block: the block sizes the kernel takes.
const BLOCKS: [usize; 2] = [16, 32];
/// Inputs per activation scale (a block of 16 shares its scale with its neighbour), except in
/// K-quant nodes ([`Packed::ablock`]).
const ABLOCK: usize = 32;

/// Whether the kernel takes `bits`-bit weights in blocks of `block` over `k` inputs.
pub fn takes(bits: usize, block: usize, k: usize) -> bool {
    matches!(bits, 4 | 8) && BLOCKS.contains(&block) && k > 0 && k % ABLOCK == 0
}
/// Columns packed together: one 512-bit register holds four weights of each.
const GROUP: usize = 16;
/// Bytes of one register.
const REG: usize = 64;
/// Groups per parallel task (64 columns).
const TASK_GROUPS: usize = 4;
/// How many blocks ahead a one-row pass asks for its weights: a step streams every weight from
/// memory in four columns' groups at once, more streams than the hardware prefetcher follows well
/// (Zen 5, Qwen2-1.5B: median +5% decode, SmolLM2 unchanged; 4 and 16 no better).
const PREFETCH_BLOCKS: usize = 8;

/// One node's weights as ONNX Runtime hands them over.
pub struct Weights<'a> {
    pub n: usize,
    pub k: usize,
    pub bits: u8,
    /// Weights per block, one of [`BLOCKS`].
    pub block: usize,
    pub b: &'a [u8],
    pub scales: &'a [f32],
    pub zeros: Option<&'a [u8]>,
    /// kogi's fifth input: each block's minimum `[k/block][n]`, added as `min · Σ x` over the block
    /// (weights `d·q + m`, folded in by [`super::graph`] from the graph's second path).
    pub mins: Option<&'a [f32]>,
}

impl Weights<'_> {
    fn blocks(&self) -> usize {
        self.k / self.block
    }

    fn check(&self) -> Result<(), String> {
        if !takes(self.bits as usize, self.block, self.k) {
            return Err(format!("MatMulNBits: {}-bit weights in blocks of {} over {} inputs are not what kogi's kernel takes", self.bits, self.block, self.k));
        }
        let kb = self.blocks();
        let zero_row = (kb * self.bits as usize).div_ceil(8);
        if self.b.len() != self.n * kb * self.block * self.bits as usize / 8 || self.scales.len() != self.n * kb || self.zeros.is_some_and(|z| z.len() != self.n * zero_row) || self.mins.is_some_and(|m| m.len() != self.n * kb) {
            return Err("MatMulNBits: weights, scales and zero points of inconsistent sizes".into());
        }
        Ok(())
    }

    fn zero(&self, col: usize, blk: usize) -> u8 {
        match self.zeros {
            None => 1 << (self.bits - 1),
            Some(z) if self.bits == 4 => {
                let byte = z[col * self.blocks().div_ceil(2) + blk / 2];
                if blk % 2 == 0 { byte & 0xF } else { byte >> 4 }
            }
            Some(z) => z[col * self.blocks() + blk],
        }
    }
}

/// A node's weights in the kernel's layout, per group of 16 columns and block of `b` weights:
/// 4-bit: `b/8` registers, register `r`'s byte `4c + j` holding column `c`'s weight `8r + j` in its
/// low nibble and `8r + 4 + j` in its high one; 8-bit: `b/4` registers, byte `4c + j` of register
/// `r` holding weight `4r + j`; 6-bit ([`Packed::pack`]): the 4-bit layout, then `b/16` registers of
/// top bits. Columns past `n` are zeros. Scales and minimums in [`Factors`], zero points in [`Zeros`].
pub struct Packed {
    n: usize,
    k: usize,
    bits: u8,
    block: usize,
    groups: usize,
    codes: Pages<u8>,
    scales: Factors,
    zeros: Zeros,
    mins: Option<Factors>,
}

/// Weights under one shared base in [`Factors::Two`]: a K-quant super-block.
const SUPER: usize = 256;

/// A node's scales (or minimums) in the packed order, in the most compact layout that gives each
/// one back bit for bit: a decode step reads every weight once, so where memory feeds the cores
/// no faster than they compute, bytes per weight set the pace.
enum Factors {
    Full(Pages<f32>),
    /// Every factor a half-precision value (GGUF's Q4_0, Q4_1, Q8_0), widened exactly.
    Half(Pages<u16>),
    /// Every factor a base (of either sign) times an integer from −128 to 127, the base shared by the
    /// `per` blocks of a column's super-block (GGUF's K-quants: a half-precision scale per 256 weights
    /// times a 6- or 8-bit one per block). Bases `[group][super-block][16]`, integers in the packed
    /// order; while packing only: nodes keep them as [`Factors::Two`].
    Parts { ints: Pages<i8>, bases: Pages<f32>, per: usize, kb: usize },
    /// The same in the node's [`Side`] (the minimums' part where `min`).
    Two { side: Arc<Side>, min: bool },
}

/// A K-quant node's factors in one buffer, so that a step streams two arrays per group (codes and
/// this; three with zero points per column) instead of five (Zen 5, Qwen2-1.5B's Q4_K nodes from
/// memory: ~12% of their time). Per
/// group and super-block: the scales' 16 bases, the minimums' (if any), the scales' integers
/// `[block][16]`, then the minimums' with each column's two of a pair of blocks side by side
/// `[pair][16][2]` (one `vpdpwssd` takes both against the two blocks' activation sums).
struct Side {
    bytes: Pages<u8>,
    /// Bases in half precision: GGUF's are a half-precision value times a power of two, so nearly
    /// always exact (2% fewer bytes a step for Q4_K); f32 for the node where one is not.
    half: bool,
    /// Bytes per group and super-block.
    chunk: usize,
    /// Blocks per super-block.
    sup: usize,
    supers: usize,
    mins: bool,
}

impl Side {
    /// From [`Factors::Parts`] of whole super-blocks (an even number of blocks each); groups spread
    /// over the cores.
    fn new(scales: &Factors, mins: Option<&Factors>, half_allowed: bool) -> Self {
        let Factors::Parts { ints, per: sup, kb, .. } = scales else { unreachable!("a base per super-block") };
        let (sup, kb) = (*sup, *kb);
        let supers = kb / sup;
        let ways = 1 + mins.is_some() as usize;
        let groups = ints.len() / (kb * GROUP);
        let every = |f: &Factors| (0..groups).all(|g| (0..supers).all(|sb| (0..GROUP).all(|c| half_base(f, g, sb, c).is_some())));
        let half = half_allowed && every(scales) && mins.is_none_or(every);
        let chunk = ways * (GROUP * if half { 2 } else { 4 } + sup * GROUP);
        let mut bytes = Pages::zeroed(groups * supers * chunk);
        // Offsets within one group's chunks.
        let layout = Self { bytes: Pages::zeroed(0), half, chunk, sup, supers, mins: mins.is_some() };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(groups.max(1));
        let each = groups.div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for (t, part) in bytes.chunks_mut(each * supers * chunk).enumerate() {
                let layout = &layout;
                scope.spawn(move || {
                    for lg in 0..part.len() / (supers * chunk) {
                        let g = t * each + lg;
                        for (min, f) in [(false, Some(scales)), (true, mins)] {
                            let Some(f) = f else { continue };
                            for sb in 0..supers {
                                for c in 0..GROUP {
                                    let at = layout.base_at(min, lg, sb, c);
                                    let times = if half {
                                        let (b, times) = half_base(f, g, sb, c).expect("checked above");
                                        part[at..at + 2].copy_from_slice(&b.to_bits().to_ne_bytes());
                                        times
                                    } else {
                                        part[at..at + 4].copy_from_slice(&f.base(g, sb, c).to_ne_bytes());
                                        1
                                    };
                                    for blk in sb * sup..(sb + 1) * sup {
                                        part[layout.int_at(min, lg, blk, c)] = (f.int((g * kb + blk) * GROUP + c) * times) as i8 as u8;
                                    }
                                }
                            }
                        }
                    }
                });
            }
        });
        Self { bytes, ..layout }
    }

    /// Bytes of one way's 16 bases.
    fn bases_len(&self) -> usize {
        GROUP * if self.half { 2 } else { 4 }
    }

    fn ints_from(&self, min: bool) -> usize {
        (1 + self.mins as usize) * self.bases_len() + min as usize * self.sup * GROUP
    }

    fn int_at(&self, min: bool, g: usize, blk: usize, c: usize) -> usize {
        let (sb, j) = (blk / self.sup, blk % self.sup);
        let within = if min { (j & !1) * GROUP + 2 * c + (j & 1) } else { j * GROUP + c };
        (g * self.supers + sb) * self.chunk + self.ints_from(min) + within
    }

    fn base_at(&self, min: bool, g: usize, sb: usize, c: usize) -> usize {
        (g * self.supers + sb) * self.chunk + min as usize * self.bases_len() + self.bases_len() / GROUP * c
    }

    fn base(&self, min: bool, g: usize, sb: usize, c: usize) -> f32 {
        let at = self.base_at(min, g, sb, c);
        if self.half {
            half::f16::from_bits(u16::from_ne_bytes(self.bytes[at..at + 2].try_into().unwrap())).to_f32()
        } else {
            f32::from_ne_bytes(self.bytes[at..at + 4].try_into().unwrap())
        }
    }
}

/// Base `(g, sb, c)` of [`Factors::Parts`] in half precision, and what its integers are multiplied
/// by for it: factoring finds the *largest* base (a GGUF half-precision scale times the integers'
/// common factor, e.g. 3), which half precision may not hold, while the GGUF's own scale (that
/// base divided by an odd number) it does. `None` where no such base keeps the integers in i8.
fn half_base(f: &Factors, g: usize, sb: usize, c: usize) -> Option<(half::f16, i32)> {
    let Factors::Parts { per, kb, .. } = f else { unreachable!("a base per super-block") };
    let b = f.base(g, sb, c);
    let exact = |x: f32| Some(half::f16::from_f32(x)).filter(|h| h.to_f32().to_bits() == x.to_bits());
    if let Some(h) = exact(b) {
        return Some((h, 1));
    }
    let blks = sb * per..((sb + 1) * per).min(*kb);
    let top = blks.map(|blk| f.int((g * kb + blk) * GROUP + c).abs()).max().unwrap_or(0).max(1);
    (3..=127 / top).step_by(2).find_map(|m| {
        let h = b / m as f32;
        exact(h).filter(|_| (h * m as f32).to_bits() == b.to_bits()).map(|h| (h, m as i32))
    })
}

/// Raw pointers to a [`Factors`]' buffers, for the kernel (which knows the kind by a constant).
#[derive(Clone, Copy)]
struct FactorPtrs {
    full: *const f32,
    half: *const u16,
    ints: *const i8,
    /// f32, or f16 where `half_bases`.
    bases: *const u8,
    half_bases: bool,
    supers: usize,
    /// Bytes per group and super-block of a [`Side`].
    chunk: usize,
}

impl FactorPtrs {
    const NONE: Self = Self { full: std::ptr::null(), half: std::ptr::null(), ints: std::ptr::null(), bases: std::ptr::null(), half_bases: false, supers: 0, chunk: 0 };
}

/// Which compact layouts packing may choose (`KOGI_FACTORS`: `full` keeps every factor in f32 —
/// for comparing, and a way back; K-quant nodes then also scale activations per 32, not per 256,
/// so the numbers differ slightly — `half` allows only exact halves).
fn compact_factors() -> (bool, bool) {
    match std::env::var("KOGI_FACTORS").as_deref() {
        Ok("full") => (false, false),
        Ok("half") => (true, false),
        _ => (true, true),
    }
}

/// Whether a [`Side`] may keep its bases in half precision (`KOGI_FACTORS=f32-bases` keeps f32, to compare).
fn half_bases() -> bool {
    std::env::var("KOGI_FACTORS").as_deref() != Ok("f32-bases")
}

impl Factors {
    /// `v` in the packed order for a node of `n` columns and `kb` blocks of `block` weights;
    /// padding columns (past `n`, zeros) do not decide the layout.
    fn new(v: Pages<f32>, n: usize, kb: usize, block: usize) -> Self {
        let (half, two) = compact_factors();
        let real = |at: &usize| (at / (kb * GROUP)) * GROUP + at % GROUP < n;
        let exact = |x: f32| half::f16::from_f32(x).to_f32().to_bits() == x.to_bits();
        if half && (0..v.len()).filter(real).all(|at| exact(v[at])) {
            let mut h: Pages<u16> = Pages::zeroed(v.len());
            h.iter_mut().zip(v.iter()).for_each(|(h, &x)| *h = half::f16::from_f32(x).to_bits());
            return Self::Half(h);
        }
        // Blocks are 16 or 32 weights: 16 or 8 of them per super-block (the side pairs blocks).
        let found = if two { Self::two(&v, n, kb, (SUPER / block).max(1).next_power_of_two()) } else { None };
        found.unwrap_or(Self::Full(v))
    }

    /// The base and integers of every super-block of every real column, or `None` where one has
    /// none; groups spread over the cores (a 1.5B model has 10^7 super-blocks to factor).
    fn two(v: &[f32], n: usize, kb: usize, per: usize) -> Option<Self> {
        let groups = v.len() / (kb * GROUP);
        let supers = kb.div_ceil(per);
        let mut ints: Pages<i8> = Pages::zeroed(v.len());
        let mut bases: Pages<f32> = Pages::zeroed(groups * supers * GROUP);
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(groups.max(1));
        let each = groups.div_ceil(threads).max(1);
        let found = std::thread::scope(|scope| {
            let parts = ints.chunks_mut(each * kb * GROUP).zip(bases.chunks_mut(each * supers * GROUP)).enumerate();
            let tasks: Vec<_> = parts
                .map(|(t, (ints, bases))| {
                    scope.spawn(move || {
                        let (mut vals, mut qs) = (Vec::with_capacity(per), vec![0i8; per]);
                        for lg in 0..ints.len() / (kb * GROUP) {
                            let g = t * each + lg;
                            for c in (0..GROUP).take_while(|c| g * GROUP + c < n) {
                                for sb in 0..supers {
                                    let blks = sb * per..((sb + 1) * per).min(kb);
                                    vals.clear();
                                    vals.extend(blks.clone().map(|b| v[(g * kb + b) * GROUP + c]));
                                    bases[(lg * supers + sb) * GROUP + c] = factor(&vals, &mut qs)?;
                                    for (b, &q) in blks.zip(&qs) {
                                        ints[(lg * kb + b) * GROUP + c] = q;
                                    }
                                }
                            }
                        }
                        Some(())
                    })
                })
                .collect();
            tasks.into_iter().all(|t| t.join().ok().flatten().is_some())
        });
        found.then_some(Self::Parts { ints, bases, per, kb })
    }

    #[inline(always)]
    fn get(&self, at: usize) -> f32 {
        match self {
            Self::Full(v) => v[at],
            Self::Half(v) => half::f16::from_bits(v[at]).to_f32(),
            Self::Parts { kb, per, .. } => self.base(at / GROUP / kb, at / GROUP % kb / per, at % GROUP) * self.int(at) as f32,
            Self::Two { side, .. } => {
                let blk = at / GROUP % (side.supers * side.sup);
                self.base(at / GROUP / (side.supers * side.sup), blk / side.sup, at % GROUP) * self.int(at) as f32
            }
        }
    }

    /// The integer at `at` of the packed order of factors that are a base per super-block times one.
    #[inline(always)]
    fn int(&self, at: usize) -> i32 {
        match self {
            Self::Parts { ints, .. } => ints[at] as i32,
            Self::Two { side, min } => {
                let kb = side.supers * side.sup;
                side.bytes[side.int_at(*min, at / GROUP / kb, at / GROUP % kb, at % GROUP)] as i8 as i32
            }
            _ => unreachable!("integers of a base per super-block"),
        }
    }

    /// The base of group `g`, super-block `sb`, column `c`.
    fn base(&self, g: usize, sb: usize, c: usize) -> f32 {
        match self {
            Self::Parts { bases, per, kb, .. } => bases[(g * kb.div_ceil(*per) + sb) * GROUP + c],
            Self::Two { side, min } => side.base(*min, g, sb, c),
            _ => unreachable!("a base per super-block"),
        }
    }

    fn kind(&self) -> u8 {
        match self {
            Self::Full(_) => FULL,
            Self::Half(_) => HALF,
            Self::Parts { .. } | Self::Two { .. } => TWO,
        }
    }

    /// The same factors in f32.
    fn widened(&self) -> Self {
        let mut f: Pages<f32> = Pages::zeroed(self.len());
        f.iter_mut().enumerate().for_each(|(at, f)| *f = self.get(at));
        Self::Full(f)
    }

    fn len(&self) -> usize {
        match self {
            Self::Full(v) => v.len(),
            Self::Half(v) => v.len(),
            Self::Parts { ints, .. } => ints.len(),
            Self::Two { side, .. } => side.bytes.len() / side.chunk * side.sup * GROUP,
        }
    }

    /// Address ranges of the buffers.
    fn spans(&self) -> Vec<std::ops::Range<usize>> {
        match self {
            Self::Full(v) => vec![span(v)],
            Self::Half(v) => vec![span(v)],
            Self::Parts { ints, bases, .. } => vec![span(ints), span(bases)],
            // One buffer for both: the scales' span.
            Self::Two { side, min } => if *min { vec![] } else { vec![span(&side.bytes)] },
        }
    }

    fn ptrs(&self) -> FactorPtrs {
        let mut p = FactorPtrs::NONE;
        match self {
            Self::Full(v) => p.full = v.as_ptr(),
            Self::Half(v) => p.half = v.as_ptr(),
            Self::Two { side, min } => {
                let from = side.bytes.as_ptr();
                p.ints = from.wrapping_add(side.ints_from(*min)) as *const i8;
                p.bases = from.wrapping_add(*min as usize * side.bases_len());
                (p.half_bases, p.supers, p.chunk) = (side.half, side.supers, side.chunk);
            }
            Self::Parts { .. } => unreachable!("packing turns parts into a side"),
        }
        p
    }
}

fn span<T>(v: &[T]) -> std::ops::Range<usize> {
    let r = v.as_ptr_range();
    r.start as usize..r.end as usize
}

/// The factors a tile reads, and their kind (the tile's `KIND`).
#[derive(Clone, Copy)]
struct Fac {
    kind: u8,
    scales: FactorPtrs,
    mins: Option<FactorPtrs>,
}

const FULL: u8 = 0;
const HALF: u8 = 1;
const TWO: u8 = 2;

/// The largest base of which every one of `vals` is an integer multiple from −128 to 127, the f32
/// product equal to the value bit for bit, with the integers in `q`; `None` when there is none.
/// Each nonzero value is an odd integer `o` times `2^t`: the largest such base is the odd parts'
/// greatest common divisor times the smallest power of two (any smaller base only gives larger
/// integers), found in one pass — packing a 1.5B model factors 10^7 super-blocks.
fn factor(vals: &[f32], q: &mut [i8]) -> Option<f32> {
    let (mut g, mut t_min) = (0u32, i32::MAX);
    let (mut pos_zero, mut neg_zero) = (false, false);
    for &v in vals {
        if v == 0.0 {
            // +0.0 is a positive base's zero, −0.0 a negative one's.
            if v.is_sign_negative() { neg_zero = true } else { pos_zero = true }
            continue;
        }
        // Subnormals are left to the f32 layout: a thread that flushes them would read them as zero.
        if !v.is_normal() {
            return None;
        }
        let (o, t) = odd_part(v);
        g = gcd(g, o);
        t_min = t_min.min(t);
    }
    if g == 0 {
        // All zeros (a K-quant's minimums where its super-block has none are −0.0): a zero base,
        // times −1 for a negative zero.
        for (&v, q) in vals.iter().zip(q.iter_mut()) {
            *q = if v.is_sign_negative() { -1 } else { 0 };
        }
        return Some(0.0);
    }
    let base = (g as f64 * 2f64.powi(t_min)) as f32;
    if !base.is_normal() {
        return None;
    }
    let mut top = 0i32;
    let mut bottom = 0i32;
    for (&v, q) in vals.iter().zip(q.iter_mut()) {
        let m = if v == 0.0 {
            0
        } else {
            let (o, t) = odd_part(v);
            let (k, shift) = ((o / g) as i64, (t - t_min) as u32);
            if shift > 8 || k << shift > 128 {
                return None;
            }
            ((k << shift) as i32) * if v < 0.0 { -1 } else { 1 }
        };
        top = top.max(m);
        bottom = bottom.min(m);
        // +128 wraps to −128, which is what negating it gives below.
        *q = m as i8;
    }
    // A negative base where the largest is +128 of the positive one (Q6_K's codes as kogi converts them).
    let negate = top > 127 || (neg_zero && !pos_zero);
    if negate {
        if bottom < -127 || pos_zero {
            return None;
        }
        q[..vals.len()].iter_mut().for_each(|q| *q = q.wrapping_neg());
        return Some(-base);
    }
    if neg_zero {
        return None;
    }
    Some(base)
}

/// A normal nonzero `v`'s magnitude as `o · 2^t` with `o` odd.
fn odd_part(v: f32) -> (u32, i32) {
    let bits = v.to_bits();
    let m = (bits & 0x7F_FFFF) | 0x80_0000;
    let e = ((bits >> 23) & 0xFF) as i32 - 150;
    let tz = m.trailing_zeros();
    (m >> tz, e + tz as i32)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Zero points: one for the whole node when they are all the same (the default, or GGUF's
/// conversions), else one per column and block.
enum Zeros {
    Each(Vec<u8>),
    All(u8),
}

impl Zeros {
    #[inline(always)]
    fn get(&self, at: usize) -> u8 {
        match self {
            Self::Each(v) => v[at],
            Self::All(z) => *z,
        }
    }
}

impl Packed {
    pub fn new(w: &Weights) -> Result<Self, String> {
        Self::pack(w, std::env::var("KOGI_CODES").as_deref() != Ok("bytes"), half_bases())
    }

    /// 8-bit codes that all fit in six bits (GGUF's Q6_K) are kept in six where `six`: a quarter
    /// fewer bytes for a step to read (`KOGI_CODES=bytes` keeps eight).
    /// Bases of K-quant factors in half precision where `half` and exact.
    fn pack(w: &Weights, six: bool, half: bool) -> Result<Self, String> {
        w.check()?;
        let kb = w.blocks();
        let groups = w.n.div_ceil(GROUP);
        let bits = if six && w.bits == 8 && w.b.iter().all(|&c| c < 64) { 6 } else { w.bits };
        let per = w.block * bits as usize / 8 * GROUP;
        let mut codes = Pages::zeroed(groups * kb * per);
        let mut scales = Pages::zeroed(groups * kb * GROUP);
        let mut zeros = vec![0u8; groups * kb * GROUP];
        let mut mins = w.mins.map(|_| Pages::zeroed(groups * kb * GROUP));
        // Groups are independent: spread over the cores (a 1.5B model has 10^9 weights to move at load).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(groups.max(1));
        let each = groups.div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let mut mins = mins.as_mut().map(|m| m.chunks_mut(each * kb * GROUP));
            let parts = codes.chunks_mut(each * kb * per).zip(scales.chunks_mut(each * kb * GROUP)).zip(zeros.chunks_mut(each * kb * GROUP));
            for (t, ((codes, scales), zeros)) in parts.enumerate() {
                let mins = mins.as_mut().and_then(|m| m.next());
                scope.spawn(move || pack_groups(w, bits, t * each, codes, scales, zeros, mins));
            }
        });
        let first = w.zero(0, 0);
        let zeros = if (0..w.n).all(|c| (0..kb).all(|b| w.zero(c, b) == first)) { Zeros::All(first) } else { Zeros::Each(zeros) };
        let scales = Factors::new(scales, w.n, kb, w.block);
        let mins = mins.map(|m| Factors::new(m, w.n, kb, w.block));
        // One kind for both (the kernel has one switch): f32 where they differ.
        let (scales, mins) = match mins {
            Some(m) if m.kind() != scales.kind() => (scales.widened(), Some(m.widened())),
            m => (scales, m),
        };
        // Sums per super-block need whole super-blocks of activations.
        let (scales, mins) = match scales {
            Factors::Parts { .. } if w.k % SUPER != 0 => (scales.widened(), mins.map(|m| m.widened())),
            Factors::Parts { .. } => {
                let side = Arc::new(Side::new(&scales, mins.as_ref(), half));
                (Factors::Two { side: side.clone(), min: false }, mins.map(|_| Factors::Two { side, min: true }))
            }
            _ => (scales, mins),
        };
        Ok(Self { n: w.n, k: w.k, bits, block: w.block, groups, codes, scales, zeros, mins })
    }

    fn blocks(&self) -> usize {
        self.k / self.block
    }

    /// Address ranges of the buffers a pass streams.
    fn spans(&self) -> Vec<std::ops::Range<usize>> {
        let mut out = vec![span(&self.codes)];
        out.extend(self.scales.spans());
        out.extend(self.mins.iter().flat_map(Factors::spans));
        if let Zeros::Each(z) = &self.zeros {
            out.push(span(z));
        }
        out
    }

    /// Inputs per activation scale: a super-block's for nodes whose factors are a base per
    /// super-block (each block's dot product times its integer, added up in f32 over the
    /// super-block, then one multiply-add by base × activation scale: fewer float operations per
    /// block, llama.cpp's Q4_K × Q8_K scheme), else [`ABLOCK`].
    fn ablock(&self) -> usize {
        if self.scales.kind() == TWO { SUPER } else { ABLOCK }
    }

    /// Bytes of one group's block.
    fn per(&self) -> usize {
        self.block * self.bits as usize / 8 * GROUP
    }

    /// `out[m][n] = Σ_k x[m][k] · w[n][k]` for `rows` rows of `x` (`[rows][k]`), columns spread by `par`.
    pub fn matmul(&self, x: &[f32], rows: usize, out: &mut [f32], par: super::attention::Par) -> Result<(), String> {
        if x.len() != rows * self.k || out.len() != rows * self.n {
            return Err("MatMulNBits: input and output of inconsistent sizes".into());
        }
        let a = Rows::quantize(x, rows, self.k, self.block, self.ablock(), par);
        let kernel = pick(rows);
        let dst = Dst(out.as_mut_ptr());
        par(self.groups.div_ceil(TASK_GROUPS), &|t| {
            let groups = t * TASK_GROUPS..((t + 1) * TASK_GROUPS).min(self.groups);
            // SAFETY: a task writes only its own columns of `out`; the kernel was picked for this CPU.
            unsafe { kernel(self, &a, groups, dst) };
        });
        Ok(())
    }
}

/// Groups `g0..` of `w` into their slices of a [`Packed`]'s buffers.
fn pack_groups(w: &Weights, bits: u8, g0: usize, codes: &mut [u8], scales: &mut [f32], zeros: &mut [u8], mut mins: Option<&mut [f32]>) {
    let kb = w.blocks();
    let blob = w.block * w.bits as usize / 8;
    let per = w.block * bits as usize / 8 * GROUP;
    for lg in 0..codes.len() / (kb * per) {
        for c in 0..GROUP {
            let col = (g0 + lg) * GROUP + c;
            if col >= w.n {
                break;
            }
            for blk in 0..kb {
                let src = &w.b[(col * kb + blk) * blob..(col * kb + blk + 1) * blob];
                let dst = &mut codes[(lg * kb + blk) * per..(lg * kb + blk + 1) * per];
                if w.bits == 4 {
                    // Weight i is nibble i % 2 of byte i / 2.
                    let nib = |i: usize| (src[i / 2] >> ((i % 2) * 4)) & 0xF;
                    for r in 0..w.block / 8 {
                        for t in 0..4 {
                            dst[r * REG + 4 * c + t] = nib(8 * r + t) | (nib(8 * r + 4 + t) << 4);
                        }
                    }
                } else if bits == 6 {
                    // Low four bits as the 4-bit layout, then the top two of weights 16h + 4s + t in
                    // bits 2s, 2s + 1 of register `block/8 + h`'s byte 4c + t.
                    for r in 0..w.block / 8 {
                        for t in 0..4 {
                            dst[r * REG + 4 * c + t] = (src[8 * r + t] & 0xF) | ((src[8 * r + 4 + t] & 0xF) << 4);
                        }
                    }
                    for h in 0..w.block / 16 {
                        for t in 0..4 {
                            dst[(w.block / 8 + h) * REG + 4 * c + t] = (0..4).map(|s| (src[16 * h + 4 * s + t] >> 4) << (2 * s)).sum();
                        }
                    }
                } else {
                    for r in 0..w.block / 4 {
                        dst[r * REG + 4 * c..r * REG + 4 * c + 4].copy_from_slice(&src[4 * r..4 * r + 4]);
                    }
                }
                let at = (lg * kb + blk) * GROUP + c;
                scales[at] = w.scales[col * kb + blk];
                zeros[at] = w.zero(col, blk);
                if let (Some(m), Some(src)) = (mins.as_deref_mut(), w.mins) {
                    m[at] = src[blk * w.n + col];
                }
            }
        }
    }
}

/// `out[m][n] = Σ_k x[m][k] · w[n][k]`, packing the weights first (tests and one-off products).
pub fn matmul(w: &Weights, x: &[f32], rows: usize, out: &mut [f32], par: super::attention::Par) -> Result<(), String> {
    Packed::new(w)?.matmul(x, rows, out, par)
}

/// Activation rows quantised to int8, a scale per `ablock` inputs and the sum of the int8 values per
/// weight block.
struct Rows {
    k: usize,
    ablock: usize,
    q: Vec<i8>,
    /// `[row][k/ablock]`.
    scale: Vec<f32>,
    /// `[row][k/block]` (|sum| ≤ 32 · 128).
    sum: Vec<i32>,
    /// With a scale per super-block: each pair of blocks' sums as two i16 in one i32 (`[row][k/block/2]`),
    /// for the minimums' `vpdpwssd`.
    pairs: Vec<i32>,
}

impl Rows {
    fn quantize(x: &[f32], rows: usize, k: usize, block: usize, ablock: usize, par: super::attention::Par) -> Self {
        let (ka, kb) = (k / ablock, k / block);
        let mut a = Self { k, ablock, q: vec![0; rows * k], scale: vec![0.0; rows * ka], sum: vec![0; rows * kb], pairs: Vec::new() };
        if rows >= 16 {
            let (q, scale, sum) = (Ptr(a.q.as_mut_ptr()), Ptr(a.scale.as_mut_ptr()), Ptr(a.sum.as_mut_ptr()));
            let per = 8;
            par(rows.div_ceil(per), &|t| {
                for r in t * per..((t + 1) * per).min(rows) {
                    // SAFETY: row r's ranges of the three buffers are written by this task only.
                    let (q, scale, sum) = unsafe { (q.slice(r * k, k), scale.slice(r * ka, ka), sum.slice(r * kb, kb)) };
                    quantize_row(&x[r * k..(r + 1) * k], q, scale, sum);
                }
            });
        } else {
            for r in 0..rows {
                quantize_row(&x[r * k..(r + 1) * k], &mut a.q[r * k..(r + 1) * k], &mut a.scale[r * ka..(r + 1) * ka], &mut a.sum[r * kb..(r + 1) * kb]);
            }
        }
        if ablock == SUPER {
            a.pairs = a.sum.chunks_exact(2).map(|s| (s[0] as u16 as u32 | (s[1] as u32) << 16) as i32).collect();
        }
        a
    }
}

/// Quantises one activation row: round(x · 127 / max|inputs sharing a scale|), ties to even (as
/// many scales as `scale` holds: one per 32 or 256 inputs), and the sum of each weight block (as many
/// as `sum` holds: one per 16 or 32).
fn quantize_row(row: &[f32], q: &mut [i8], scale: &mut [f32], sum: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    if vnni() {
        // SAFETY: the CPU has the features; slices sized by `Rows`.
        return unsafe { quantize_row_avx512(row, q, scale, sum) };
    }
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: as above.
        return unsafe { quantize_row_avx2(row, q, scale, sum) };
    }
    quantize_row_plain(row, q, scale, sum)
}

/// [`quantize_row_plain`] with AVX2: the same bytes, scales and sums (the portable rounding is a
/// library call on CPUs without SSE4.1 in the base target: a 283-token prompt's down projection spent
/// a fifth of its time here).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn quantize_row_avx2(row: &[f32], q: &mut [i8], scale: &mut [f32], sum: &mut [i32]) {
    use std::arch::x86_64::*;
    let (ablock, block) = (row.len() / scale.len(), row.len() / sum.len());
    assert!(ablock.is_multiple_of(8) && block.is_multiple_of(8) && q.len() == row.len());
    let abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    // Each i32 lane's low byte (what `as i8` keeps), four to each half's first word.
    let low = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    let mut s = _mm256_setzero_si256();
    for (blk, x) in row.chunks_exact(ablock).enumerate() {
        unsafe {
            let mut m = _mm256_setzero_ps();
            for i in (0..ablock).step_by(8) {
                // A NaN input is passed over as `f32::max` passes it (the second operand is taken on NaN).
                m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x.as_ptr().add(i)), abs), m);
            }
            let h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
            let h = _mm_max_ps(h, _mm_movehl_ps(h, h));
            let amax = _mm_cvtss_f32(_mm_max_ss(h, _mm_shuffle_ps::<1>(h, h)));
            let (d, inv) = if amax > 0.0 { (amax / 127.0, 127.0 / amax) } else { (0.0, 0.0) };
            let v = _mm256_set1_ps(inv);
            for i in (0..ablock).step_by(8) {
                let at = blk * ablock + i;
                let b = _mm256_shuffle_epi8(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x.as_ptr().add(i)), v)), low);
                let eight = _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b));
                _mm_storel_epi64(q.as_mut_ptr().add(at) as *mut _, eight);
                // Summed as stored (a NaN's integer narrows to 0, as the portable cast gives).
                s = _mm256_add_epi32(s, _mm256_cvtepi8_epi32(eight));
                if (at + 8) % block == 0 {
                    let t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s));
                    let t = _mm_add_epi32(t, _mm_shuffle_epi32::<0b01_00_11_10>(t));
                    *sum.get_unchecked_mut(at / block) = _mm_cvtsi128_si32(_mm_add_epi32(t, _mm_shuffle_epi32::<0b10_11_00_01>(t)));
                    s = _mm256_setzero_si256();
                }
            }
            scale[blk] = d;
        }
    }
}

/// [`quantize_row_plain`] in vector registers: the same bytes, scales and sums.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn quantize_row_avx512(row: &[f32], q: &mut [i8], scale: &mut [f32], sum: &mut [i32]) {
    use std::arch::x86_64::*;
    let (ablock, block) = (row.len() / scale.len(), row.len() / sum.len());
    sum.fill(0);
    for (blk, x) in row.chunks_exact(ablock).enumerate() {
        unsafe {
            let mut m = _mm512_setzero_ps();
            for i in (0..ablock).step_by(16) {
                // A NaN input is passed over as `f32::max` passes it (the second operand is taken on NaN).
                m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x.as_ptr().add(i))), m);
            }
            let amax = _mm512_reduce_max_ps(m);
            let (d, inv) = if amax > 0.0 { (amax / 127.0, 127.0 / amax) } else { (0.0, 0.0) };
            let v = _mm512_set1_ps(inv);
            for i in (0..ablock).step_by(16) {
                let qi = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x.as_ptr().add(i)), v)));
                _mm_storeu_si128(q.as_mut_ptr().add(blk * ablock + i) as *mut _, qi);
                // Summed as stored (a NaN's integer narrows to 0, as the portable cast gives).
                *sum.get_unchecked_mut((blk * ablock + i) / block) += _mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(qi));
            }
            scale[blk] = d;
        }
    }
}

fn quantize_row_plain(row: &[f32], q: &mut [i8], scale: &mut [f32], sum: &mut [i32]) {
    let (ablock, per) = (row.len() / scale.len(), row.len() / sum.len());
    for (blk, x) in row.chunks_exact(ablock).enumerate() {
        let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        let (d, inv) = if amax > 0.0 { (amax / 127.0, 127.0 / amax) } else { (0.0, 0.0) };
        for (j, &v) in x.iter().enumerate() {
            q[blk * ablock + j] = (v * inv).round_ties_even() as i32 as i8;
        }
        scale[blk] = d;
    }
    for (s, q) in sum.iter_mut().zip(q.chunks_exact(per)) {
        *s = q.iter().map(|&v| v as i32).sum::<i32>();
    }
}

#[derive(Clone, Copy)]
struct Ptr<T>(*mut T);
// SAFETY: tasks take disjoint ranges (see `Rows::quantize`).
unsafe impl<T> Send for Ptr<T> {}
unsafe impl<T> Sync for Ptr<T> {}
impl<T> Ptr<T> {
    /// # Safety
    /// `at..at + len` within the buffer and used by one task only.
    unsafe fn slice<'a>(&self, at: usize, len: usize) -> &'a mut [T] {
        unsafe { std::slice::from_raw_parts_mut(self.0.add(at), len) }
    }
}

#[derive(Clone, Copy)]
struct Dst(*mut f32);
// SAFETY: tasks write disjoint columns.
unsafe impl Send for Dst {}
unsafe impl Sync for Dst {}

type Kernel = unsafe fn(&Packed, &Rows, std::ops::Range<usize>, Dst);

/// Passes of up to this many rows take the AVX2 kernel on CPUs that run AVX-512 as two halves.
const HALVED_STEP_ROWS: usize = 4;

fn pick(rows: usize) -> Kernel {
    #[cfg(target_arch = "x86_64")]
    {
        if vnni() && !(rows <= HALVED_STEP_ROWS && halved_avx512() && avx2()) {
            return groups_avx512;
        }
        if avx2() {
            return groups_avx2;
        }
    }
    groups_plain
}

/// Whether this CPU runs one of the vector kernels (and so whether nodes are switched to kogi's at all).
pub fn vector() -> bool {
    vnni() || avx2()
}

fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("f16c")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether this CPU executes 512-bit instructions as two 256-bit halves: AMD's family 19h, whose
/// only AVX-512 parts are Zen 4. There, streaming a step's weights from memory, the AVX2 kernel is
/// the faster one (30 SmolLM2 layers and its head, one thread: one row 6.0 against 7.6–7.9 ms, two
/// 6.1–6.3 against 8.1–8.4, four 8.8–9.4 against 10.1–10.2, six at par); prompt passes, which
/// compute more than they read, stay on AVX-512. Both give the same bits, so the choice is free.
pub(super) fn halved_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static HALVED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *HALVED.get_or_init(|| {
            use std::arch::x86_64::__cpuid;
            let (vendor, sig) = (__cpuid(0), __cpuid(1).eax);
            let amd = (vendor.ebx, vendor.edx, vendor.ecx) == (u32::from_le_bytes(*b"Auth"), u32::from_le_bytes(*b"enti"), u32::from_le_bytes(*b"cAMD"));
            let family = ((sig >> 8) & 0xF) + if (sig >> 8) & 0xF == 0xF { (sig >> 20) & 0xFF } else { 0 };
            amd && family == 0x19
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether this CPU runs the AVX-512 VNNI kernel.
pub fn vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bw") && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Portable kernel: the same integer sums and the same float operations in the same order as the
/// vector one, so the same bits (tests, and CPUs where nodes are not switched).
unsafe fn groups_plain(p: &Packed, a: &Rows, groups: std::ops::Range<usize>, dst: Dst) {
    assert_eq!(a.ablock, p.ablock(), "activations quantised for another node");
    let (kb, per, b) = (p.blocks(), p.per(), p.block);
    let rows = a.q.len() / a.k;
    let two = p.scales.kind() == TWO;
    // Blocks per super-block.
    let sup = SUPER / b;
    for g in groups {
        for m in 0..rows {
            let mut acc = [0f32; GROUP];
            let mut part = [0f32; GROUP];
            for blk in 0..kb {
                let w = &p.codes[(g * kb + blk) * per..(g * kb + blk + 1) * per];
                let x = &a.q[m * a.k + blk * b..m * a.k + (blk + 1) * b];
                let mut dot = [0i32; GROUP];
                for (c, dot) in dot.iter_mut().enumerate() {
                    for j in 0..b {
                        let code = if p.bits != 8 {
                            let (r, jj) = (j / 8, j % 8);
                            let byte = w[r * REG + 4 * c + jj % 4];
                            let low = if jj < 4 { byte & 0xF } else { byte >> 4 };
                            if p.bits == 6 { low | ((w[(b / 8 + j / 16) * REG + 4 * c + j % 4] >> (2 * (j % 16 / 4))) & 3) << 4 } else { low }
                        } else {
                            w[(j / 4) * REG + 4 * c + j % 4]
                        };
                        *dot += code as i32 * x[j] as i32;
                    }
                }
                let sum = a.sum[m * kb + blk];
                if two {
                    // Each block's dot product times its integer, summed over the super-block, then
                    // one multiply-add by its base and activation scale (and one for the minimums).
                    for c in 0..GROUP {
                        let at = (g * kb + blk) * GROUP + c;
                        part[c] = ((dot[c] - p.zeros.get(at) as i32 * sum) as f32).mul_add(p.scales.int(at) as f32, part[c]);
                    }
                    if (blk + 1) % sup == 0 {
                        let sb = blk / sup;
                        let sa = a.scale[m * (a.k / SUPER) + sb];
                        for c in 0..GROUP {
                            acc[c] = part[c].mul_add(p.scales.base(g, sb, c) * sa, acc[c]);
                            part[c] = 0.0;
                            if let Some(mins) = &p.mins {
                                let mini: i32 = (blk + 1 - sup..=blk).map(|j| mins.int((g * kb + j) * GROUP + c) * a.sum[m * kb + j]).sum();
                                acc[c] = (mini as f32).mul_add(mins.base(g, sb, c) * sa, acc[c]);
                            }
                        }
                    }
                    continue;
                }
                let (sa, sum) = (a.scale[(m * a.k + blk * b) / ABLOCK], sum as f32);
                for c in 0..GROUP {
                    let at = (g * kb + blk) * GROUP + c;
                    let d = (p.zeros.get(at) as f32).mul_add(-sum, dot[c] as f32);
                    acc[c] = d.mul_add(p.scales.get(at) * sa, acc[c]);
                    if let Some(mins) = &p.mins {
                        acc[c] = mins.get(at).mul_add(sa * sum, acc[c]);
                    }
                }
            }
            for (c, v) in acc.iter().enumerate() {
                let col = g * GROUP + c;
                if col < p.n {
                    // SAFETY: (m, col) belongs to this task.
                    unsafe { *dst.0.add(m * p.n + col) = *v };
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn groups_avx512(p: &Packed, a: &Rows, groups: std::ops::Range<usize>, dst: Dst) {
    // The tiles read scales and pairs unchecked.
    assert_eq!(a.ablock, p.ablock(), "activations quantised for another node");
    let rows = a.q.len() / a.k;
    let fac = Fac { kind: p.scales.kind(), scales: p.scales.ptrs(), mins: p.mins.as_ref().map(Factors::ptrs) };
    let one_zero = matches!(p.zeros, Zeros::All(_));
    macro_rules! kinds {
        ($bits:literal, $b:literal, $r:literal, $g:literal, $m:expr, $g0:expr) => {
            match (fac.kind, one_zero) {
                (HALF, true) => tile::<$bits, $b, $r, $g, HALF, true>(p, a, $m, $g0, fac, dst),
                (HALF, false) => tile::<$bits, $b, $r, $g, HALF, false>(p, a, $m, $g0, fac, dst),
                (TWO, true) => tile::<$bits, $b, $r, $g, TWO, true>(p, a, $m, $g0, fac, dst),
                (TWO, false) => tile::<$bits, $b, $r, $g, TWO, false>(p, a, $m, $g0, fac, dst),
                (_, true) => tile::<$bits, $b, $r, $g, FULL, true>(p, a, $m, $g0, fac, dst),
                (_, false) => tile::<$bits, $b, $r, $g, FULL, false>(p, a, $m, $g0, fac, dst),
            }
        };
    }
    macro_rules! tile {
        ($r:literal, $g:literal, $m:expr, $g0:expr) => {
            // The layout's choices as constants, so no branch sits in the block loop.
            match (p.bits, p.block) {
                (4, 32) => kinds!(4, 32, $r, $g, $m, $g0),
                (4, _) => kinds!(4, 16, $r, $g, $m, $g0),
                (6, 32) => kinds!(6, 32, $r, $g, $m, $g0),
                (6, _) => kinds!(6, 16, $r, $g, $m, $g0),
                (_, 32) => kinds!(8, 32, $r, $g, $m, $g0),
                (_, _) => kinds!(8, 16, $r, $g, $m, $g0),
            }
        };
    }
    unsafe {
        if rows == 1 {
            let mut g = groups.start;
            while g < groups.end {
                match groups.end - g {
                    1 => tile!(1, 1, 0, g),
                    2 => tile!(1, 2, 0, g),
                    3 => tile!(1, 3, 0, g),
                    _ => tile!(1, 4, 0, g),
                }
                g += (groups.end - g).min(4);
            }
            return;
        }
        // Rows in fours against pairs of groups: the task's weights stay in cache across rows.
        let mut m = 0;
        while m < rows {
            let mut g = groups.start;
            while g < groups.end {
                match (rows - m, groups.end - g) {
                    (1, 1) => tile!(1, 1, m, g),
                    (1, _) => tile!(1, 2, m, g),
                    (2, 1) => tile!(2, 1, m, g),
                    (2, _) => tile!(2, 2, m, g),
                    (3, 1) => tile!(3, 1, m, g),
                    (3, _) => tile!(3, 2, m, g),
                    (_, 1) => tile!(4, 1, m, g),
                    _ => tile!(4, 2, m, g),
                }
                g += (groups.end - g).min(2);
            }
            m += (rows - m).min(4);
        }
    }
}

/// Rows `m..m + R` against groups `g0..g0 + G`. Each output is the chain [`groups_plain`] computes:
/// per block an exact integer dot product, its zero point's share taken off exactly, then one
/// multiply-add by the two scales' product — or, for K-quant nodes, by the block's integer scale into
/// the super-block's sum, which takes one multiply-add by base × activation scale per super-block
/// (plus the minimums' integer share) and waits in the output between super-blocks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile<const BITS: u8, const B: usize, const R: usize, const G: usize, const KIND: u8, const ONE_ZERO: bool>(p: &Packed, a: &Rows, m: usize, g0: usize, fac: Fac, dst: Dst) {
    use std::arch::x86_64::*;
    let (kb, per) = (p.blocks(), p.per());
    let nib = _mm512_set1_epi8(0xF);
    let six = _mm512_set1_epi8(0x30);
    let mut acc = [[_mm512_setzero_ps(); G]; R];
    let (scales, mins) = (fac.scales, fac.mins);
    let (zeros, zero, zero_i) = match &p.zeros {
        Zeros::Each(v) => (v.as_ptr(), _mm512_setzero_ps(), 0),
        Zeros::All(z) => (std::ptr::null(), _mm512_set1_ps(*z as f32), *z as i32),
    };
    // Factors as a base per super-block: each output's sum over the super-block (see `Packed::ablock`).
    let mut part = [[_mm512_setzero_ps(); G]; R];
    let sup = SUPER / B;
    unsafe {
        let code = p.codes.as_ptr();
        let bcast = |r: usize, at: usize| _mm512_set1_epi32((a.q.as_ptr().add((m + r) * a.k + at) as *const i32).read_unaligned());
        for blk in 0..kb {
            // Two integer sums per output (even and odd registers), so one row has enough independent chains.
            let mut lo = [[_mm512_setzero_si512(); G]; R];
            let mut hi = [[_mm512_setzero_si512(); G]; R];
            let base = |g: usize| code.add(((g0 + g) * kb + blk) * per);
            if R == 1 && blk + PREFETCH_BLOCKS < kb {
                for g in 0..G {
                    let ahead = base(g).add(PREFETCH_BLOCKS * per);
                    for line in (0..per).step_by(REG) {
                        _mm_prefetch::<_MM_HINT_T0>(ahead.add(line) as *const i8);
                    }
                    // The factors' stream too, the next super-block's: left to the hardware it stalls
                    // the step (Zen 5, streaming Qwen2-1.5B's Q4_K nodes: ~10%; two ahead no better).
                    if KIND == TWO && blk % sup == 0 && blk + sup < kb {
                        // The chunk's lines (chunks need not start on one).
                        let at = (scales.bases as *const i8).add(((g0 + g) * scales.supers + blk / sup + 1) * scales.chunk);
                        let skew = at as usize % REG;
                        for line in (0..skew + scales.chunk).step_by(REG) {
                            _mm_prefetch::<_MM_HINT_T0>(at.sub(skew).add(line));
                        }
                    }
                }
            }
            if BITS != 8 {
                for reg in 0..B / 8 {
                    let mut wl = [_mm512_setzero_si512(); G];
                    let mut wh = [_mm512_setzero_si512(); G];
                    for g in 0..G {
                        let raw = _mm512_loadu_si512(base(g).add(reg * REG) as *const _);
                        wl[g] = _mm512_and_si512(raw, nib);
                        wh[g] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), nib);
                        if BITS == 6 {
                            // The top two bits: register `B/8 + reg/2`, bits 4(reg%2) and 4(reg%2)+2
                            // of a byte, moved to bits 4–5 (16-bit shifts: what crosses a byte is masked off).
                            let top = _mm512_loadu_si512(base(g).add((B / 8 + reg / 2) * REG) as *const _);
                            let (l, h) = if reg % 2 == 0 { (_mm512_slli_epi16(top, 4), _mm512_slli_epi16(top, 2)) } else { (top, _mm512_srli_epi16(top, 2)) };
                            // a | (b & c)
                            wl[g] = _mm512_ternarylogic_epi32(wl[g], l, six, 0xF8);
                            wh[g] = _mm512_ternarylogic_epi32(wh[g], h, six, 0xF8);
                        }
                    }
                    for r in 0..R {
                        let (xl, xh) = (bcast(r, blk * B + reg * 8), bcast(r, blk * B + reg * 8 + 4));
                        for g in 0..G {
                            lo[r][g] = _mm512_dpbusd_epi32(lo[r][g], wl[g], xl);
                            if R == 1 {
                                hi[r][g] = _mm512_dpbusd_epi32(hi[r][g], wh[g], xh);
                            } else {
                                lo[r][g] = _mm512_dpbusd_epi32(lo[r][g], wh[g], xh);
                            }
                        }
                    }
                }
            } else {
                for reg in (0..B / 4).step_by(2) {
                    let mut w0 = [_mm512_setzero_si512(); G];
                    let mut w1 = [_mm512_setzero_si512(); G];
                    for g in 0..G {
                        w0[g] = _mm512_loadu_si512(base(g).add(reg * REG) as *const _);
                        w1[g] = _mm512_loadu_si512(base(g).add((reg + 1) * REG) as *const _);
                    }
                    for r in 0..R {
                        let (x0, x1) = (bcast(r, blk * B + reg * 4), bcast(r, blk * B + reg * 4 + 4));
                        for g in 0..G {
                            lo[r][g] = _mm512_dpbusd_epi32(lo[r][g], w0[g], x0);
                            if R == 1 {
                                hi[r][g] = _mm512_dpbusd_epi32(hi[r][g], w1[g], x1);
                            } else {
                                lo[r][g] = _mm512_dpbusd_epi32(lo[r][g], w1[g], x1);
                            }
                        }
                    }
                }
            }
            // With more than one row, `hi` stays zero (the rows give enough independent chains).
            let dot = |r: usize, g: usize| if R == 1 { _mm512_add_epi32(lo[r][g], hi[r][g]) } else { lo[r][g] };
            if KIND == TWO {
                for g in 0..G {
                    let at = ((g0 + g) * kb + blk) * GROUP;
                    let q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(scales.ints.add(((g0 + g) * scales.supers + blk / sup) * scales.chunk + blk % sup * GROUP) as *const _)));
                    let z = if ONE_ZERO { _mm512_setzero_si512() } else { _mm512_cvtepu8_epi32(_mm_loadu_si128(zeros.add(at) as *const _)) };
                    for r in 0..R {
                        let sum = *a.sum.get_unchecked((m + r) * kb + blk);
                        // K-quants with minimums have zero points 0.
                        let d = match (ONE_ZERO, zero_i) {
                            (true, 0) => dot(r, g),
                            (true, z) => _mm512_sub_epi32(dot(r, g), _mm512_set1_epi32(z * sum)),
                            (false, _) => _mm512_sub_epi32(dot(r, g), _mm512_mullo_epi32(z, _mm512_set1_epi32(sum))),
                        };
                        part[r][g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), q, part[r][g]);
                    }
                }
                if (blk + 1) % sup == 0 {
                    let sb = blk / sup;
                    for g in 0..G {
                        let chunk = ((g0 + g) * scales.supers + sb) * scales.chunk;
                        let bases = |f: FactorPtrs| {
                            if f.half_bases { _mm512_cvtph_ps(_mm256_loadu_si256(f.bases.add(chunk) as *const _)) } else { _mm512_loadu_ps(f.bases.add(chunk) as *const f32) }
                        };
                        let bs = bases(scales);
                        // The minimums' integers against the blocks' sums of activations.
                        let mut mini = [_mm512_setzero_si512(); R];
                        if let Some(f) = mins {
                            // Paired: lane c holds the column's two integers, against the two sums.
                            for j in (blk + 1 - sup..=blk).step_by(2) {
                                let q = _mm512_cvtepi8_epi16(_mm256_loadu_si256(f.ints.add(chunk + (j - sb * sup) * GROUP) as *const _));
                                for r in 0..R {
                                    let two = *a.pairs.get_unchecked(((m + r) * kb + j) / 2);
                                    mini[r] = _mm512_dpwssd_epi32(mini[r], q, _mm512_set1_epi32(two));
                                }
                            }
                        }
                        // The sums so far wait in the output, not in registers the block loop needs.
                        let col = (g0 + g) * GROUP;
                        let mask = if col + GROUP <= p.n { 0xFFFF } else { (1u16 << (p.n - col)) - 1 };
                        for r in 0..R {
                            let sa = _mm512_set1_ps(*a.scale.get_unchecked((m + r) * (a.k / SUPER) + sb));
                            let out = dst.0.add((m + r) * p.n + col);
                            let prev = if sb == 0 { _mm512_setzero_ps() } else { _mm512_maskz_loadu_ps(mask, out) };
                            let mut v = _mm512_fmadd_ps(part[r][g], _mm512_mul_ps(bs, sa), prev);
                            part[r][g] = _mm512_setzero_ps();
                            if let Some(f) = mins {
                                v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(mini[r]), _mm512_mul_ps(bases(f), sa), v);
                            }
                            _mm512_mask_storeu_ps(out, mask, v);
                        }
                    }
                }
                continue;
            }
            for g in 0..G {
                let at = ((g0 + g) * kb + blk) * GROUP;
                let load = |f: FactorPtrs| match KIND {
                    HALF => _mm512_cvtph_ps(_mm256_loadu_si256(f.half.add(at) as *const _)),
                    _ => _mm512_loadu_ps(f.full.add(at)),
                };
                let sw = load(scales);
                let z = if ONE_ZERO { zero } else { _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(zeros.add(at) as *const _))) };
                let mn = mins.map(load);
                for r in 0..R {
                    let (sum1, sa1) = (*a.sum.get_unchecked((m + r) * kb + blk) as f32, *a.scale.get_unchecked(((m + r) * a.k + blk * B) / ABLOCK));
                    let (sum, sa) = (_mm512_set1_ps(sum1), _mm512_set1_ps(sa1));
                    let d = _mm512_fnmadd_ps(z, sum, _mm512_cvtepi32_ps(dot(r, g)));
                    acc[r][g] = _mm512_fmadd_ps(d, _mm512_mul_ps(sw, sa), acc[r][g]);
                    if let Some(mn) = mn {
                        acc[r][g] = _mm512_fmadd_ps(mn, _mm512_set1_ps(sa1 * sum1), acc[r][g]);
                    }
                }
            }
        }
        for r in (0..R).filter(|_| KIND != TWO) {
            for g in 0..G {
                let col = (g0 + g) * GROUP;
                let mask = if col + GROUP <= p.n { 0xFFFF } else { (1u16 << (p.n - col)) - 1 };
                _mm512_mask_storeu_ps(dst.0.add((m + r) * p.n + col), mask, acc[r][g]);
            }
        }
    }
}

/// [`groups_avx512`] for CPUs with AVX2 and FMA but no AVX-512 (most laptops): each 16-column group
/// as two halves of eight, the integer dot products through `vpmaddubsw`/`vpmaddwd` (exact: no pair
/// sum can saturate, 8-bit codes go in two nibbles), then the same float operations in the same order
/// as [`groups_plain`], so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn groups_avx2(p: &Packed, a: &Rows, groups: std::ops::Range<usize>, dst: Dst) {
    assert_eq!(a.ablock, p.ablock(), "activations quantised for another node");
    let rows = a.q.len() / a.k;
    let fac = Fac { kind: p.scales.kind(), scales: p.scales.ptrs(), mins: p.mins.as_ref().map(Factors::ptrs) };
    let one_zero = matches!(p.zeros, Zeros::All(_));
    macro_rules! kinds {
        ($bits:literal, $b:literal, $r:literal, $m:expr, $g:expr) => {
            match (fac.kind, one_zero) {
                (HALF, true) => tile_avx2::<$bits, $b, $r, HALF, true>(p, a, $m, $g, fac, dst),
                (HALF, false) => tile_avx2::<$bits, $b, $r, HALF, false>(p, a, $m, $g, fac, dst),
                (TWO, true) => tile_avx2::<$bits, $b, $r, TWO, true>(p, a, $m, $g, fac, dst),
                (TWO, false) => tile_avx2::<$bits, $b, $r, TWO, false>(p, a, $m, $g, fac, dst),
                (_, true) => tile_avx2::<$bits, $b, $r, FULL, true>(p, a, $m, $g, fac, dst),
                (_, false) => tile_avx2::<$bits, $b, $r, FULL, false>(p, a, $m, $g, fac, dst),
            }
        };
    }
    macro_rules! tile {
        ($r:literal, $m:expr, $g:expr) => {
            match (p.bits, p.block) {
                (4, 32) => kinds!(4, 32, $r, $m, $g),
                (4, _) => kinds!(4, 16, $r, $m, $g),
                (6, 32) => kinds!(6, 32, $r, $m, $g),
                (6, _) => kinds!(6, 16, $r, $m, $g),
                (_, 32) => kinds!(8, 32, $r, $m, $g),
                (_, _) => kinds!(8, 16, $r, $m, $g),
            }
        };
    }
    unsafe {
        // Rows in fours (each group's codes unpacked once for four rows), each four over the task's groups.
        let mut m = 0;
        while m < rows {
            let r = (rows - m).min(4);
            for g in groups.clone() {
                match r {
                    1 => tile!(1, m, g),
                    2 => tile!(2, m, g),
                    3 => tile!(3, m, g),
                    _ => tile!(4, m, g),
                }
            }
            m += r;
        }
    }
}

/// Rows `m..m + R` against group `g`, the chain [`tile`] computes, eight columns to a register.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn tile_avx2<const BITS: u8, const B: usize, const R: usize, const KIND: u8, const ONE_ZERO: bool>(p: &Packed, a: &Rows, m: usize, g: usize, fac: Fac, dst: Dst) {
    use std::arch::x86_64::*;
    let (kb, per) = (p.blocks(), p.per());
    let nib = _mm256_set1_epi8(0xF);
    let six = _mm256_set1_epi8(0x30);
    let ones = _mm256_set1_epi16(1);
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    let mut part = [[_mm256_setzero_ps(); 2]; R];
    let (scales, mins) = (fac.scales, fac.mins);
    let (zeros, zero, zero_i) = match &p.zeros {
        Zeros::Each(v) => (v.as_ptr(), _mm256_setzero_ps(), 0),
        Zeros::All(z) => (std::ptr::null(), _mm256_set1_ps(*z as f32), *z as i32),
    };
    let sup = SUPER / B;
    let col = g * GROUP;
    // Lanes of each half that are real columns (the last group may be partial).
    let mask = |h: usize| {
        let n = p.n.saturating_sub(col + 8 * h).min(8) as i32;
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
    };
    unsafe {
        let bcast = |r: usize, at: usize| _mm256_set1_epi32((a.q.as_ptr().add((m + r) * a.k + at) as *const i32).read_unaligned());
        for blk in 0..kb {
            let base = p.codes.as_ptr().add((g * kb + blk) * per);
            if R == 1 && blk + PREFETCH_BLOCKS < kb {
                let ahead = base.add(PREFETCH_BLOCKS * per);
                for line in (0..per).step_by(REG) {
                    _mm_prefetch::<_MM_HINT_T0>(ahead.add(line) as *const i8);
                }
                if KIND == TWO && blk % sup == 0 && blk + sup < kb {
                    let at = (scales.bases as *const i8).add((g * scales.supers + blk / sup + 1) * scales.chunk);
                    let skew = at as usize % REG;
                    for line in (0..skew + scales.chunk).step_by(REG) {
                        _mm_prefetch::<_MM_HINT_T0>(at.sub(skew).add(line));
                    }
                }
            }
            // Each half's integer dot products, eight columns in i32 lanes.
            let mut dot = [[_mm256_setzero_si256(); 2]; R];
            for h in 0..2 {
                if BITS != 8 {
                    // Four-bit codes: a block's sixteen products per lane (≤ 16 · 15 · 127) stay inside
                    // i16, so they are added there and widened once (three multiplies per row and
                    // register become two and a quarter: the multiply ports bound the prompt's tile).
                    let mut s16 = [_mm256_setzero_si256(); R];
                    for reg in 0..B / 8 {
                        let raw = _mm256_loadu_si256(base.add(reg * REG + 32 * h) as *const _);
                        let mut wl = _mm256_and_si256(raw, nib);
                        let mut wh = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nib);
                        if BITS == 6 {
                            let top = _mm256_loadu_si256(base.add((B / 8 + reg / 2) * REG + 32 * h) as *const _);
                            let (l, hh) = if reg % 2 == 0 { (_mm256_slli_epi16(top, 4), _mm256_slli_epi16(top, 2)) } else { (top, _mm256_srli_epi16(top, 2)) };
                            wl = _mm256_or_si256(wl, _mm256_and_si256(l, six));
                            wh = _mm256_or_si256(wh, _mm256_and_si256(hh, six));
                        }
                        for r in 0..R {
                            let (xl, xh) = (bcast(r, blk * B + reg * 8), bcast(r, blk * B + reg * 8 + 4));
                            // Four products of codes < 64 by |x| ≤ 127 stay inside i16.
                            let s = _mm256_add_epi16(_mm256_maddubs_epi16(wl, xl), _mm256_maddubs_epi16(wh, xh));
                            if BITS == 4 {
                                s16[r] = _mm256_add_epi16(s16[r], s);
                            } else {
                                dot[r][h] = _mm256_add_epi32(dot[r][h], _mm256_madd_epi16(s, ones));
                            }
                        }
                    }
                    if BITS == 4 {
                        for r in 0..R {
                            dot[r][h] = _mm256_madd_epi16(s16[r], ones);
                        }
                    }
                } else {
                    for reg in 0..B / 4 {
                        let raw = _mm256_loadu_si256(base.add(reg * REG + 32 * h) as *const _);
                        let (wl, wh) = (_mm256_and_si256(raw, nib), _mm256_and_si256(_mm256_srli_epi16(raw, 4), nib));
                        for r in 0..R {
                            let x = bcast(r, blk * B + reg * 4);
                            let lo = _mm256_madd_epi16(_mm256_maddubs_epi16(wl, x), ones);
                            let hi = _mm256_madd_epi16(_mm256_maddubs_epi16(wh, x), ones);
                            dot[r][h] = _mm256_add_epi32(dot[r][h], _mm256_add_epi32(lo, _mm256_slli_epi32(hi, 4)));
                        }
                    }
                }
            }
            if KIND == TWO {
                for h in 0..2 {
                    let at = (g * kb + blk) * GROUP + 8 * h;
                    let ints = scales.ints.add((g * scales.supers + blk / sup) * scales.chunk + blk % sup * GROUP + 8 * h);
                    let q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(ints as *const _)));
                    let z = if ONE_ZERO { _mm256_setzero_si256() } else { _mm256_cvtepu8_epi32(_mm_loadl_epi64(zeros.add(at) as *const _)) };
                    for r in 0..R {
                        let sum = *a.sum.get_unchecked((m + r) * kb + blk);
                        let d = match (ONE_ZERO, zero_i) {
                            (true, 0) => dot[r][h],
                            (true, z) => _mm256_sub_epi32(dot[r][h], _mm256_set1_epi32(z * sum)),
                            (false, _) => _mm256_sub_epi32(dot[r][h], _mm256_mullo_epi32(z, _mm256_set1_epi32(sum))),
                        };
                        part[r][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), q, part[r][h]);
                    }
                }
                if (blk + 1) % sup == 0 {
                    let sb = blk / sup;
                    let chunk = (g * scales.supers + sb) * scales.chunk;
                    for h in 0..2 {
                        let bases = |f: FactorPtrs| {
                            if f.half_bases {
                                _mm256_cvtph_ps(_mm_loadu_si128(f.bases.add(chunk + 16 * h) as *const _))
                            } else {
                                _mm256_loadu_ps(f.bases.add(chunk + 32 * h) as *const f32)
                            }
                        };
                        let bs = bases(scales);
                        let mut mini = [_mm256_setzero_si256(); R];
                        if let Some(f) = mins {
                            for j in (blk + 1 - sup..=blk).step_by(2) {
                                let q = _mm256_cvtepi8_epi16(_mm_loadu_si128(f.ints.add(chunk + (j - sb * sup) * GROUP + 16 * h) as *const _));
                                for (r, mini) in mini.iter_mut().enumerate() {
                                    let two = *a.pairs.get_unchecked(((m + r) * kb + j) / 2);
                                    *mini = _mm256_add_epi32(*mini, _mm256_madd_epi16(q, _mm256_set1_epi32(two)));
                                }
                            }
                        }
                        let mk = mask(h);
                        for r in 0..R {
                            let sa = _mm256_set1_ps(*a.scale.get_unchecked((m + r) * (a.k / SUPER) + sb));
                            let out = dst.0.add((m + r) * p.n + col + 8 * h);
                            let prev = if sb == 0 { _mm256_setzero_ps() } else { _mm256_maskload_ps(out, mk) };
                            let mut v = _mm256_fmadd_ps(part[r][h], _mm256_mul_ps(bs, sa), prev);
                            part[r][h] = _mm256_setzero_ps();
                            if let Some(f) = mins {
                                v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mini[r]), _mm256_mul_ps(bases(f), sa), v);
                            }
                            _mm256_maskstore_ps(out, mk, v);
                        }
                    }
                }
                continue;
            }
            for h in 0..2 {
                let at = (g * kb + blk) * GROUP + 8 * h;
                let load = |f: FactorPtrs| match KIND {
                    HALF => _mm256_cvtph_ps(_mm_loadu_si128(f.half.add(at) as *const _)),
                    _ => _mm256_loadu_ps(f.full.add(at)),
                };
                let sw = load(scales);
                let z = if ONE_ZERO { zero } else { _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(zeros.add(at) as *const _))) };
                let mn = mins.map(load);
                for r in 0..R {
                    let (sum1, sa1) = (*a.sum.get_unchecked((m + r) * kb + blk) as f32, *a.scale.get_unchecked(((m + r) * a.k + blk * B) / ABLOCK));
                    let (sum, sa) = (_mm256_set1_ps(sum1), _mm256_set1_ps(sa1));
                    let d = _mm256_fnmadd_ps(z, sum, _mm256_cvtepi32_ps(dot[r][h]));
                    acc[r][h] = _mm256_fmadd_ps(d, _mm256_mul_ps(sw, sa), acc[r][h]);
                    if let Some(mn) = mn {
                        acc[r][h] = _mm256_fmadd_ps(mn, _mm256_set1_ps(sa1 * sum1), acc[r][h]);
                    }
                }
            }
        }
        for r in (0..R).filter(|_| KIND != TWO) {
            for h in 0..2 {
                _mm256_maskstore_ps(dst.0.add((m + r) * p.n + col + 8 * h), mask(h), acc[r][h]);
            }
        }
    }
}

/// Weights packed while the graph was rewritten ([`super::graph`]), waiting for their node's kernel,
/// by the id in the node's `packed` attribute.
static WAITING: Mutex<BTreeMap<i64, Arc<Packed>>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicI64 = AtomicI64::new(1);

/// The weights one rewritten graph parked for its kernels; they leave the waiting room when this
/// goes (after the session is built: ONNX Runtime creates every kernel then).
#[derive(Default)]
pub struct Parked(Vec<i64>);

impl Parked {
    /// Parks `p` and returns the id its node names.
    pub fn park(&mut self, p: Packed) -> i64 {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        WAITING.lock().unwrap_or_else(|e| e.into_inner()).insert(id, Arc::new(p));
        self.0.push(id);
        id
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Address ranges of the parked weights' buffers.
    fn spans(&self) -> Vec<std::ops::Range<usize>> {
        let waiting = WAITING.lock().unwrap_or_else(|e| e.into_inner());
        self.0.iter().filter_map(|id| waiting.get(id)).flat_map(|p| p.spans()).collect()
    }

    /// Bytes of the parked weights: what a one-row step reads of them.
    pub fn bytes(&self) -> usize {
        self.spans().iter().map(|s| s.len()).sum()
    }

    /// Moves the parked weights into huge pages ([`super::pages::collapse`]); the bytes moved.
    pub fn collapse(&self) -> usize {
        // The weights stay alive while parked (`self` holds them there); the lock is not held for the moves.
        super::pages::collapse(self.spans())
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        let mut waiting = WAITING.lock().unwrap_or_else(|e| e.into_inner());
        for id in &self.0 {
            waiting.remove(id);
        }
    }
}

pub(super) fn parked(id: i64) -> Option<Arc<Packed>> {
    WAITING.lock().unwrap_or_else(|e| e.into_inner()).get(&id).cloned()
}

/// The operator ONNX Runtime calls for switched `MatMulNBits` nodes.
pub struct MatMulNBits;

impl Operator for MatMulNBits {
    type Kernel<'attr> = BoxedKernel<'attr>;

    fn name(&self) -> &str {
        "MatMulNBits"
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        use TensorElementType::{Float32, Uint8};
        // Only `x` when the weights were parked.
        [OperatorInput::required(Float32), OperatorInput::optional(Uint8), OperatorInput::optional(Float32), OperatorInput::optional(Uint8), OperatorInput::optional(Float32)]
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        [OperatorOutput::required(TensorElementType::Float32)]
    }

    fn create_kernel<'attr>(&self, k: &KernelContext<'attr>) -> ort::Result<Self::Kernel<'attr>> {
        let get = |name: &str| k.get::<i64>(name).unwrap_or(0).max(0) as usize;
        let (n, kk, bits, block) = (get("N"), get("K"), get("bits") as u8, get("block_size"));
        // Weights parked by the graph's rewrite, else initializers packed once, here; a node whose
        // weights are not constant is packed at every call instead.
        let packed = match k.get::<i64>("packed") {
            Some(id) => Some(parked(id).ok_or_else(|| ort::Error::new(format!("MatMulNBits: packed weights {id} are not waiting")))?),
            None => pack_constant(k, n, kk, bits, block).map(Arc::new),
        };
        Ok(Box::new(move |ctx: &ComputeContext| compute(n, kk, bits, block, packed.as_deref(), ctx)))
    }
}

fn pack_constant(k: &KernelContext, n: usize, kk: usize, bits: u8, block: usize) -> Option<Packed> {
    use ort::value::TensorValueType;
    let b = k.constant_input::<TensorValueType<u8>>(1).ok()?;
    let s = k.constant_input::<TensorValueType<f32>>(2).ok()?;
    let z = k.constant_input::<TensorValueType<u8>>(3).ok();
    let mins = k.constant_input::<TensorValueType<f32>>(4).ok();
    let w = Weights {
        n,
        k: kk,
        bits,
        block,
        b: b.try_extract_tensor::<u8>().ok()?.1,
        scales: s.try_extract_tensor::<f32>().ok()?.1,
        zeros: match &z {
            Some(z) => Some(z.try_extract_tensor::<u8>().ok()?.1),
            None => None,
        },
        mins: match &mins {
            Some(m) => Some(m.try_extract_tensor::<f32>().ok()?.1),
            None => None,
        },
    };
    Packed::new(&w).ok()
}

fn missing(what: &str) -> ort::Error {
    ort::Error::new(format!("MatMulNBits: no {what}"))
}

fn compute(n: usize, k: usize, bits: u8, block: usize, packed: Option<&Packed>, ctx: &ComputeContext) -> ort::Result<()> {
    let a = ctx.input(0)?.ok_or_else(|| missing("input"))?;
    let (shape, x) = a.try_extract_tensor::<f32>()?;
    if shape.last().copied() != Some(k as i64) {
        return Err(ort::Error::new(format!("MatMulNBits: input of {:?} for {k} inputs", &shape[..])));
    }
    let owned;
    let packed = match packed {
        Some(p) => p,
        None => {
            let b = ctx.input(1)?.ok_or_else(|| missing("weights"))?;
            let s = ctx.input(2)?.ok_or_else(|| missing("scales"))?;
            let z = ctx.input(3)?;
            let mins = ctx.input(4)?;
            let w = Weights {
                n,
                k,
                bits,
                block,
                b: b.try_extract_tensor::<u8>()?.1,
                scales: s.try_extract_tensor::<f32>()?.1,
                zeros: match &z {
                    Some(z) => Some(z.try_extract_tensor::<u8>()?.1),
                    None => None,
                },
                mins: match &mins {
                    Some(m) => Some(m.try_extract_tensor::<f32>()?.1),
                    None => None,
                },
            };
            owned = Packed::new(&w).map_err(ort::Error::new)?;
            &owned
        }
    };
    let rows = x.len() / k.max(1);
    let mut out_shape: Vec<i64> = shape.to_vec();
    *out_shape.last_mut().expect("checked above") = n as i64;
    let mut out = ctx.output(0, out_shape)?.ok_or_else(|| missing("output"))?;
    let (_, out) = out.try_extract_tensor_mut::<f32>()?;
    let par = |count: usize, f: &(dyn Fn(usize) + Sync)| super::on_pool(ctx, count, f);
    packed.matmul(x, rows, out, &par).map_err(ort::Error::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial(n: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..n).for_each(f)
    }

    /// A small generator, so the tests need no crate for randomness.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u32 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) as u32
        }
        fn float(&mut self) -> f32 {
            self.next() as f32 / (1u64 << 31) as f32 - 1.0
        }
    }

    #[derive(Clone)]
    struct Owned {
        n: usize,
        k: usize,
        bits: u8,
        block: usize,
        b: Vec<u8>,
        scales: Vec<f32>,
        zeros: Option<Vec<u8>>,
        mins: Option<Vec<f32>>,
    }

    impl Owned {
        /// With a minimum per block (`[k/block][n]`).
        fn with_mins(mut self, seed: u64) -> Self {
            let mut r = Lcg(seed);
            self.mins = Some((0..self.n * self.k / self.block).map(|_| 0.02 * r.float()).collect());
            self
        }
        fn random(n: usize, k: usize, bits: u8, zeros: bool, seed: u64) -> Self {
            Self::with_block(n, k, bits, 32, zeros, seed)
        }
        fn with_block(n: usize, k: usize, bits: u8, block: usize, zeros: bool, seed: u64) -> Self {
            let mut r = Lcg(seed);
            let kb = k / block;
            let b = (0..n * kb * block * bits as usize / 8).map(|_| r.next() as u8).collect();
            let scales = (0..n * kb).map(|_| 0.01 + 0.02 * r.float().abs()).collect();
            let zeros = zeros.then(|| (0..n * (kb * bits as usize).div_ceil(8)).map(|_| r.next() as u8).collect());
            Self { n, k, bits, block, b, scales, zeros, mins: None }
        }
        fn weights(&self) -> Weights<'_> {
            Weights { n: self.n, k: self.k, bits: self.bits, block: self.block, b: &self.b, scales: &self.scales, zeros: self.zeros.as_deref(), mins: self.mins.as_deref() }
        }
        /// `[n][k]` as floats.
        fn dequantized(&self) -> Vec<f64> {
            let w = self.weights();
            let (b, kb) = (self.block, self.k / self.block);
            let mut out = vec![0f64; self.n * self.k];
            for c in 0..self.n {
                for blk in 0..kb {
                    for j in 0..b {
                        let code = if self.bits == 4 {
                            let byte = self.b[(c * kb + blk) * b / 2 + j / 2];
                            if j % 2 == 0 { byte & 0xF } else { byte >> 4 }
                        } else {
                            self.b[(c * kb + blk) * b + j]
                        };
                        let min = self.mins.as_ref().map_or(0.0, |m| m[blk * self.n + c] as f64);
                        out[c * self.k + blk * b + j] = self.scales[c * kb + blk] as f64 * (code as f64 - w.zero(c, blk) as f64) + min;
                    }
                }
            }
            out
        }
    }

    fn run(w: &Weights, x: &[f32], rows: usize) -> Vec<f32> {
        let mut out = vec![0f32; rows * w.n];
        matmul(w, x, rows, &mut out, &serial).unwrap();
        out
    }

    #[test]
    fn products_match_the_dequantised_weights_within_int8_rounding() {
        let cases = [(4, true, 576, false, 32), (4, false, 96, false, 32), (8, false, 576, false, 32), (8, false, 160, false, 32), (4, true, 1536, false, 32), (8, true, 64, false, 32), (4, true, 576, true, 32), (8, true, 96, true, 32)];
        let sixteen = [(8, true, 576, false, 16), (8, false, 96, false, 16), (4, true, 160, false, 16), (8, true, 64, true, 16)];
        for (bits, zeros, k, mins, block) in cases.into_iter().chain(sixteen) {
            let w = Owned::with_block(37, k, bits, block, zeros, k as u64 + bits as u64);
            let w = if mins { w.with_mins(5) } else { w };
            let mut r = Lcg(7);
            let rows = 5;
            let x: Vec<f32> = (0..rows * k).map(|_| r.float() * 3.0).collect();
            let got = run(&w.weights(), &x, rows);
            let deq = w.dequantized();
            // The activations as the kernel rounds them (its own quantisation is pinned below).
            let a = Rows::quantize(&x, rows, k, block, ABLOCK, &serial);
            for m in 0..rows {
                for c in 0..w.n {
                    let exact: f64 = (0..k).map(|i| x[m * k + i] as f64 * deq[c * k + i]).sum();
                    let rounded: f64 = (0..k).map(|i| a.q[m * k + i] as f64 * a.scale[m * (k / ABLOCK) + i / ABLOCK] as f64 * deq[c * k + i]).sum();
                    let size: f64 = (0..k).map(|i| (x[m * k + i] as f64 * deq[c * k + i]).abs()).sum();
                    let got = got[m * w.n + c] as f64;
                    // int8 activations: half a step of 1/127 of each block's largest value.
                    assert!((got - exact).abs() <= 0.01 * size, "{bits}-bit/{block} k {k} row {m} col {c}: {got} vs {exact} (size {size})");
                    // Given those, only float rounding.
                    assert!((got - rounded).abs() <= 1e-5 * size, "{bits}-bit/{block} k {k} row {m} col {c}: {got} vs {rounded} (size {size})");
                }
            }
        }
    }

    /// `p` with every factor in f32 and a zero point per column and block (the layout before it was compacted).
    fn widened(p: &Packed) -> Packed {
        let zeros = match &p.zeros {
            Zeros::Each(v) => v.clone(),
            Zeros::All(z) => vec![*z; p.groups * p.blocks() * GROUP],
        };
        Packed { n: p.n, k: p.k, bits: p.bits, block: p.block, groups: p.groups, codes: p.codes.clone(), scales: p.scales.widened(), zeros: Zeros::Each(zeros), mins: p.mins.as_ref().map(Factors::widened) }
    }

    #[test]
    fn half_precision_factors_and_one_zero_point_give_the_bits_of_the_full_layout() {
        for (bits, block, mins) in [(4, 32, false), (4, 32, true), (8, 16, false), (8, 32, true), (4, 16, true)] {
            let mut w = Owned::with_block(53, 576, bits, block, false, 21);
            if mins {
                w = w.with_mins(4);
            }
            // As GGUF's Q4_0, Q4_1 and Q8_0 store them: half-precision scales and minimums.
            let round = |v: &mut Vec<f32>| v.iter_mut().for_each(|x| *x = half::f16::from_f32(*x).to_f32());
            round(&mut w.scales);
            if let Some(m) = w.mins.as_mut() {
                round(m);
            }
            let compact = Packed::new(&w.weights()).unwrap();
            assert!(matches!(compact.scales, Factors::Half(_)) && matches!(compact.zeros, Zeros::All(_)), "{bits}-bit/{block}");
            let full = widened(&compact);
            let mut r = Lcg(5);
            for rows in [1, 3, 6] {
                let x: Vec<f32> = (0..rows * 576).map(|_| r.float()).collect();
                let (mut a, mut b) = (vec![0f32; rows * 53], vec![0f32; rows * 53]);
                compact.matmul(&x, rows, &mut a, &serial).unwrap();
                full.matmul(&x, rows, &mut b, &serial).unwrap();
                assert_eq!(a, b, "{bits}-bit/{block} rows {rows}");
                let q = Rows::quantize(&x, rows, 576, block, ABLOCK, &serial);
                unsafe { groups_plain(&compact, &q, 0..compact.groups, Dst(b.as_mut_ptr())) };
                assert_eq!(a, b, "portable, {bits}-bit/{block} rows {rows}");
            }
            // One scale half precision cannot hold keeps the node's factors in f32; varied zero points stay per block.
            w.scales[7] = 0.1;
            w.zeros = Some((0..53 * (576 / block * bits as usize).div_ceil(8)).map(|i| i as u8).collect());
            let p = Packed::new(&w.weights()).unwrap();
            assert!(matches!(p.scales, Factors::Full(_)) && matches!(p.zeros, Zeros::Each(_)), "{bits}-bit/{block}");
        }
    }

    #[test]
    fn eight_bit_codes_that_fit_in_six_bits_are_kept_in_six_and_give_the_same_bits() {
        for (block, mins, zeros) in [(16, false, false), (32, true, true), (16, true, true)] {
            let mut w = Owned::with_block(53, 576, 8, block, zeros, 31);
            w.b.iter_mut().for_each(|c| *c &= 63);
            if mins {
                w = w.with_mins(6);
            }
            let six = Packed::pack(&w.weights(), true, true).unwrap();
            let eight = Packed::pack(&w.weights(), false, true).unwrap();
            assert_eq!((six.bits, eight.bits), (6, 8));
            assert_eq!(six.codes.len() * 4, eight.codes.len() * 3, "a quarter fewer bytes");
            let mut r = Lcg(9);
            for rows in [1, 2, 5, 9] {
                let x: Vec<f32> = (0..rows * 576).map(|_| r.float()).collect();
                let (mut a, mut b) = (vec![0f32; rows * 53], vec![0f32; rows * 53]);
                six.matmul(&x, rows, &mut a, &serial).unwrap();
                eight.matmul(&x, rows, &mut b, &serial).unwrap();
                assert_eq!(a, b, "block {block} rows {rows}");
                let q = Rows::quantize(&x, rows, 576, block, ABLOCK, &serial);
                unsafe { groups_plain(&six, &q, 0..six.groups, Dst(b.as_mut_ptr())) };
                assert_eq!(a, b, "portable, block {block} rows {rows}");
            }
            // One code past six bits keeps the node in eight.
            w.b[100] = 64;
            assert_eq!(Packed::pack(&w.weights(), true, true).unwrap().bits, 8);
        }
    }

    #[test]
    fn k_quant_nodes_sum_integers_per_super_block_within_int8_rounding_and_a_row_alone_gives_the_same_bits() {
        // Q4_K: 4-bit blocks of 32, scale and minimum each a half-precision base per 256 weights times
        // a 6-bit integer; Q6_K: 8-bit blocks of 16, an integer from −127 to 128 per block (as kogi converts
        // them: a negative base).
        // Two tasks' worth of columns (the second's group partial), or whole groups and one super-block.
        let cases = [(4, 32, true, false, false, 100, 1792), (4, 16, true, true, true, 100, 1792), (8, 16, false, true, false, 100, 1792), (8, 32, true, false, true, 100, 1792), (4, 32, true, false, false, 64, 256)];
        for (bits, block, mins, signed, zeros, n, k) in cases {
            let mut w = Owned::with_block(n, k, bits, block, zeros, 8);
            if bits == 8 && block == 16 {
                // Q6_K's codes: kept in six bits.
                w.b.iter_mut().for_each(|c| *c &= 63);
            }
            let kb = k / block;
            let per = SUPER / block;
            let mut r = Lcg(17);
            let mut k_quant = |len: usize, index: &dyn Fn(usize, usize) -> usize| {
                let mut v = vec![0f32; len];
                for c in 0..n {
                    for sb in 0..kb.div_ceil(per) {
                        let d = half::f16::from_f32(0.0005 + 0.001 * r.float().abs()).to_f32();
                        for b in sb * per..((sb + 1) * per).min(kb) {
                            // Signed: a negative base (its zeros -0.0), so +128 is reached.
                            let (d, q) = if signed { (-d, (r.next() % 256) as f32 - 128.0) } else { (d, (r.next() % 64) as f32) };
                            v[index(c, b)] = d * q;
                        }
                    }
                }
                v
            };
            w.scales = k_quant(n * kb, &|c, b| c * kb + b);
            // Integers with a common factor 3: factoring finds 3 · d, which half precision cannot
            // hold (d's eleven bits all set); the side keeps d and the integers times 3.
            let d3 = half::f16::from_bits(0x13FF).to_f32();
            (0..per.min(kb)).for_each(|b| w.scales[5 * kb + b] = d3 * (3 * (b + 1)) as f32);
            if mins {
                // As kogi's converter writes them: −(dmin · m), so −0.0 where m is 0, and a column
                // whose first super-block has no minimums at all.
                let mut m: Vec<f32> = k_quant(n * kb, &|c, b| b * n + c).into_iter().map(|x| -x).collect();
                (0..per.min(kb)).for_each(|b| m[b * n + 3] = -0.0);
                w.mins = Some(m);
            }
            let case = format!("{bits}-bit/{block}, minimums {mins}, zero points {zeros}, n {n}, k {k}");
            let p = Packed::pack(&w.weights(), true, true).unwrap();
            assert!(matches!(&p.scales, Factors::Two { side, .. } if side.half), "{case}: half-precision bases");
            assert!(p.mins.as_ref().is_none_or(|m| matches!(m, Factors::Two { .. })));
            assert_eq!((p.ablock(), p.bits == 6), (SUPER, bits == 8 && block == 16));
            let deq = w.dequantized();
            // Sixteen rows or more are quantised in parallel tasks.
            let rows = 17;
            let x: Vec<f32> = (0..rows * k).map(|_| r.float()).collect();
            let mut all = vec![0f32; rows * n];
            p.matmul(&x, rows, &mut all, &serial).unwrap();
            let a = Rows::quantize(&x, rows, k, block, SUPER, &serial);
            let mut plain = vec![0f32; rows * n];
            unsafe { groups_plain(&p, &a, 0..p.groups, Dst(plain.as_mut_ptr())) };
            assert_eq!(all, plain, "portable, {case}");
            #[cfg(target_arch = "x86_64")]
            if avx2() {
                for wide in [false, true] {
                    let q = if wide { Packed::pack(&w.weights(), true, false).unwrap() } else { Packed::new(&w.weights()).unwrap() };
                    let (mut two, mut plain) = (vec![f32::NAN; rows * n], vec![0f32; rows * n]);
                    unsafe { groups_avx2(&q, &a, 0..q.groups, Dst(two.as_mut_ptr())) };
                    unsafe { groups_plain(&q, &a, 0..q.groups, Dst(plain.as_mut_ptr())) };
                    assert_eq!(two, plain, "AVX2, {case}, f32 bases {wide}");
                }
            }
            for m in 0..rows {
                for c in 0..n {
                    let rounded: f64 = (0..k).map(|i| a.q[m * k + i] as f64 * a.scale[m * (k / SUPER) + i / SUPER] as f64 * deq[c * k + i]).sum();
                    let exact: f64 = (0..k).map(|i| x[m * k + i] as f64 * deq[c * k + i]).sum();
                    let size: f64 = (0..k).map(|i| (x[m * k + i] as f64 * deq[c * k + i]).abs()).sum();
                    let got = all[m * n + c] as f64;
                    assert!((got - exact).abs() <= 0.01 * size, "{case} row {m} col {c}: {got} vs {exact} (size {size})");
                    assert!((got - rounded).abs() <= 1e-5 * size, "{case} row {m} col {c}: {got} vs {rounded} (size {size})");
                }
            }
            for (from, to) in [(0, 1), (3, 4), (1, 3), (4, 7), (7, 17)] {
                let mut part = vec![0f32; (to - from) * n];
                p.matmul(&x[from * k..to * k], to - from, &mut part, &serial).unwrap();
                assert_eq!(part, all[from * n..to * n], "{case} rows {from}..{to}");
            }
            // The same bases in f32: the same bits, from 2% more bytes — but for column 5, whose f32 base
            // is 3 · d: there the sums round differently, as llama.cpp's (d times the integers) round.
            let wide = Packed::pack(&w.weights(), true, false).unwrap();
            let (Factors::Two { side: h, .. }, Factors::Two { side: f, .. }) = (&p.scales, &wide.scales) else { unreachable!() };
            assert!(!f.half && f.bytes.len() > h.bytes.len(), "{case}");
            for rows in [1, 3, 17] {
                let mut out = vec![0f32; rows * n];
                wide.matmul(&x[..rows * k], rows, &mut out, &serial).unwrap();
                for (i, (a, b)) in out.iter().zip(&all[..rows * n]).enumerate() {
                    if i % n == 5 {
                        assert!((a - b).abs() <= 1e-5 * b.abs(), "{case}, f32 bases, {rows} rows, column 5: {a} vs {b}");
                    } else {
                        assert_eq!(a.to_bits(), b.to_bits(), "{case}, f32 bases, {rows} rows, output {i}");
                    }
                }
            }
            // One base that half precision cannot hold keeps the node's bases in f32, with the same products.
            let mut odd = w.clone();
            // 4099 (a prime) · 2^-22: thirteen significant bits, two more than half precision has.
            let d = 4099.0 / (1u32 << 22) as f32;
            odd.scales[..per.min(kb)].iter_mut().enumerate().for_each(|(b, s)| *s = d * (b + 1) as f32);
            let q = Packed::pack(&odd.weights(), true, true).unwrap();
            assert!(matches!(&q.scales, Factors::Two { side, .. } if !side.half), "{case}: a base past half precision");
            let mut out = vec![0f32; 3 * n];
            q.matmul(&x[..3 * k], 3, &mut out, &serial).unwrap();
            let mut plain = vec![0f32; 3 * n];
            let a3 = Rows::quantize(&x[..3 * k], 3, k, block, SUPER, &serial);
            unsafe { groups_plain(&q, &a3, 0..q.groups, Dst(plain.as_mut_ptr())) };
            assert_eq!(out, plain, "{case}: f32 bases, vector = portable");
        }
        // Inputs that end inside a super-block keep f32 factors (the sums need whole ones).
        let mut w = Owned::with_block(20, 288, 4, 32, false, 8);
        w.scales.iter_mut().for_each(|s| *s = 0.5);
        assert!(matches!(Packed::new(&w.weights()).unwrap().scales, Factors::Half(_)));
        w.scales.iter_mut().enumerate().for_each(|(i, s)| *s = 0.001 * (i % 60) as f32 + 1e-6);
        let p = Packed::new(&w.weights()).unwrap();
        assert!(matches!(p.scales, Factors::Full(_)) && p.ablock() == ABLOCK);
    }

    #[test]
    fn a_base_is_found_only_where_every_value_is_its_multiple() {
        let f = |vals: &[f32]| {
            let mut q = vec![0i8; vals.len()];
            let base = factor(vals, &mut q)?;
            // Every value comes back bit for bit.
            for (v, q) in vals.iter().zip(&q) {
                assert_eq!((base * *q as f32).to_bits(), v.to_bits(), "{vals:?}: base {base}, q {q}");
            }
            Some(base)
        };
        assert_eq!(f(&[0.5, 1.5, -2.0, 0.0]), Some(0.5));
        assert_eq!(f(&[0.0, 0.0]), Some(0.0));
        assert_eq!(f(&[0.0, -0.0]), Some(0.0), "zeros of either sign from a zero base");
        assert_eq!(f(&[-0.0, -0.0]), Some(0.0), "a super-block of minimums that has none");
        assert_eq!(f(&[-0.0, 3.0]), Some(-3.0), "−0.0 from a negative base");
        assert_eq!(f(&[1.0, 200.0]), None, "an integer over 127");
        assert_eq!(f(&[1.0, 256.0]), None, "a power of two past the range");
        assert_eq!(f(&[-128.0, 3.0]), Some(1.0), "Q6_K's scales reach -128");
        assert_eq!(f(&[128.0, 3.0]), Some(-1.0), "+128 of a negative base");
        assert_eq!(f(&[128.0, -128.0, 1.0]), None, "not both");
        assert_eq!(f(&[0.25, 0.75]), Some(0.25));
        assert_eq!(f(&[1.0, std::f32::consts::PI]), None);
        assert_eq!(f(&[1e-40, 1.0]), None, "subnormals stay in f32");
        // A half-precision base times 6-bit integers, as Q4_K's scales are.
        let d = half::f16::from_f32(0.000_713).to_f32();
        let vals: Vec<f32> = [63, 12, 0, 40, 7, 33, 21, 1].iter().map(|&q| d * q as f32).collect();
        let base = f(&vals).unwrap();
        assert_eq!(base, d, "the largest base is the half-precision one here (the integers share no factor)");
    }

    #[test]
    fn the_vector_kernels_give_the_portable_ones_bits() {
        if !vector() {
            return;
        }
        let cases = [(4, true, 576, 70, false, 32), (4, false, 96, 16, false, 32), (8, false, 544, 37, false, 32), (8, true, 64, 5, false, 32), (4, true, 576, 40, true, 32)];
        let sixteen = [(8, true, 576, 70, false, 16), (8, false, 96, 5, true, 16), (4, true, 160, 37, false, 16), (4, false, 64, 16, true, 16)];
        for (bits, zeros, k, n, mins, block) in cases.into_iter().chain(sixteen) {
            let w = Owned::with_block(n, k, bits, block, zeros, 3);
            let w = if mins { w.with_mins(9) } else { w };
            let p = Packed::new(&w.weights()).unwrap();
            let mut r = Lcg(11);
            for rows in [1, 2, 3, 5, 9] {
                let x: Vec<f32> = (0..rows * k).map(|_| r.float()).collect();
                let mut fast = vec![0f32; rows * n];
                p.matmul(&x, rows, &mut fast, &serial).unwrap();
                let a = Rows::quantize(&x, rows, k, block, p.ablock(), &serial);
                let mut plain = vec![0f32; rows * n];
                unsafe { groups_plain(&p, &a, 0..p.groups, Dst(plain.as_mut_ptr())) };
                assert_eq!(fast, plain, "{bits}-bit/{block} k {k} n {n} rows {rows}");
                // The AVX2 kernel too where AVX-512 picks the other one (a task's groups in any split).
                #[cfg(target_arch = "x86_64")]
                if avx2() {
                    let mut two = vec![f32::NAN; rows * n];
                    let half = p.groups / 2;
                    unsafe { groups_avx2(&p, &a, 0..half, Dst(two.as_mut_ptr())) };
                    unsafe { groups_avx2(&p, &a, half..p.groups, Dst(two.as_mut_ptr())) };
                    assert_eq!(two, plain, "AVX2, {bits}-bit/{block} k {k} n {n} rows {rows}");
                }
            }
        }
    }

    #[test]
    fn vector_quantisation_gives_the_same_bytes_as_the_portable_one() {
        if !vector() {
            return;
        }
        let mut r = Lcg(13);
        let mut x: Vec<f32> = (0..512).map(|_| r.float() * 5.0).collect();
        x[32..64].fill(0.0);
        x[256..512].fill(0.0);
        x[70] = 0.5;
        x[300] = -0.25;
        // A NaN after a larger value of the same scale's inputs.
        x[3] = 9.0;
        x[243] = f32::NAN;
        for (block, ablock) in [(16, ABLOCK), (32, ABLOCK), (16, SUPER), (32, SUPER)] {
            let (ka, kb) = (512 / ablock, 512 / block);
            let (mut qa, mut sa, mut ua) = (vec![0i8; 512], vec![0f32; ka], vec![0i32; kb]);
            let (mut qb, mut sb, mut ub) = (vec![0i8; 512], vec![0f32; ka], vec![0i32; kb]);
            quantize_row_plain(&x, &mut qb, &mut sb, &mut ub);
            if vnni() {
                unsafe { quantize_row_avx512(&x, &mut qa, &mut sa, &mut ua) };
                assert_eq!((&qa, &sa, &ua), (&qb, &sb, &ub), "AVX-512, block {block}, a scale per {ablock}");
            }
            if avx2() {
                unsafe { quantize_row_avx2(&x, &mut qa, &mut sa, &mut ua) };
                assert_eq!((qa, sa, ua), (qb, sb, ub), "AVX2, block {block}, a scale per {ablock}");
            }
        }
    }

    #[test]
    fn a_row_comes_out_the_same_bit_for_bit_in_a_pass_of_any_size() {
        for w in [Owned::random(150, 576, 4, true, 5), Owned::with_block(150, 576, 8, 16, true, 5)] {
            let mut r = Lcg(9);
            let rows = 40;
            let x: Vec<f32> = (0..rows * 576).map(|_| r.float()).collect();
            let all = run(&w.weights(), &x, rows);
            for m in [0, 1, 17, 39] {
                let one = run(&w.weights(), &x[m * 576..(m + 1) * 576], 1);
                assert_eq!(one, all[m * 150..(m + 1) * 150], "row {m}, block {}", w.block);
            }
            let two = run(&w.weights(), &x[576..3 * 576], 2);
            assert_eq!(two, all[150..450]);
        }
    }

    #[test]
    fn weights_of_the_wrong_size_are_refused() {
        let w = Owned::random(4, 64, 4, false, 1);
        let bad = Weights { scales: &w.scales[1..], ..w.weights() };
        let mut out = vec![0f32; 4];
        assert!(matmul(&bad, &[0.0; 64], 1, &mut out, &serial).unwrap_err().contains("inconsistent"));
        let odd = Weights { k: 48, ..w.weights() };
        assert!(matmul(&odd, &[0.0; 48], 1, &mut out, &serial).is_err());
        let block64 = Weights { block: 64, scales: &w.scales[..4], ..w.weights() };
        assert!(matmul(&block64, &[0.0; 64], 1, &mut out, &serial).unwrap_err().contains("blocks of 64"));
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// `cargo test --release -p kogi-core --lib nbits::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn time_the_kernel() {
        for (n, k, rows, bits, block) in [(3072, 576, 283, 4, 32), (576, 1536, 283, 4, 32), (3072, 576, 1, 4, 32), (576, 1536, 1, 4, 32), (49152, 576, 1, 8, 32), (1536, 8960, 1, 8, 16), (1536, 8960, 1, 8, 32), (1536, 8960, 1, 4, 32)] {
            let kb = k / block;
            let b: Vec<u8> = (0..n * kb * block * bits / 8).map(|i| (i * 7 % 251) as u8).collect();
            let scales = vec![0.01f32; n * kb];
            let zeros: Option<Vec<u8>> = (bits == 4).then(|| vec![0x88; n * kb.div_ceil(2)]);
            let w = Weights { n, k, bits: bits as u8, block, b: &b, scales: &scales, zeros: zeros.as_deref(), mins: None };
            let x: Vec<f32> = (0..rows * k).map(|i| ((i * 13 % 17) as f32 - 8.0) * 0.1).collect();
            let mut out = vec![0f32; rows * n];
            let serial = |c: usize, f: &(dyn Fn(usize) + Sync)| (0..c).for_each(f);
            let reps = if rows > 1 { 5 } else { 50 };
            let t = std::time::Instant::now();
            let p = Packed::new(&w).unwrap();
            let packing = t.elapsed().as_secs_f64();
            p.matmul(&x, rows, &mut out, &serial).unwrap();
            let t = std::time::Instant::now();
            for _ in 0..reps {
                p.matmul(&x, rows, &mut out, &serial).unwrap();
            }
            let per = t.elapsed().as_secs_f64() / reps as f64;
            let t = std::time::Instant::now();
            for _ in 0..reps {
                std::hint::black_box(Rows::quantize(&x, rows, k, block, p.ablock(), &serial));
            }
            let quant = t.elapsed().as_secs_f64() / reps as f64;
            println!("n {n} k {k} rows {rows} bits {bits} block {block}: {:.3} ms (quantising {:.3} ms), {:.1} GMAC/s one thread; packed in {:.1} ms", per * 1e3, quant * 1e3, (n * k * rows) as f64 / per / 1e9, packing * 1e3);
        }
    }

    /// The two vector kernels streaming a step's weights from memory (30 SmolLM2 layers and its
    /// head, one thread, interleaved): which one [`pick`] should give short passes (`ROWS=1,5,17`: those passes).
    /// `cargo test --release -p kogi-core --lib nbits::timing::both_kernels_streaming -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn both_kernels_streaming_a_step() {
        let serial = |c: usize, f: &(dyn Fn(usize) + Sync)| (0..c).for_each(f);
        let layer = [(960usize, 576usize, 4usize, 32usize), (576, 576, 4, 32), (3072, 576, 4, 32), (576, 1536, 4, 32)];
        let mut shapes: Vec<(usize, usize, usize, usize)> = (0..30).flat_map(|_| layer).collect();
        shapes.push((49152, 576, 8, 32));
        let packed: Vec<Packed> = shapes.iter().map(|&(n, k, bits, block)| {
            let kb = k / block;
            let b: Vec<u8> = (0..n * kb * block * bits / 8).map(|i| (i * 7 % 251) as u8).collect();
            let scales = vec![0.01f32; n * kb];
            let zeros: Option<Vec<u8>> = (bits == 4).then(|| vec![0x88; n * kb.div_ceil(2)]);
            let w = Weights { n, k, bits: bits as u8, block, b: &b, scales: &scales, zeros: zeros.as_deref(), mins: None };
            Packed::new(&w).unwrap()
        }).collect();
        let list: Vec<usize> = std::env::var("ROWS").map_or(vec![1, 2, 3, 4, 6, 8, 16], |x| x.split(',').map(|r| r.parse().expect("ROWS: numbers")).collect());
        for rows in list {
            let mut t = [Vec::new(), Vec::new()];
            for rep in 0..12 {
                for (which, kernel) in [(0, groups_avx512 as Kernel), (1, groups_avx2 as Kernel)] {
                    let start = std::time::Instant::now();
                    for (p, &(n, k, _, _)) in packed.iter().zip(&shapes) {
                        let x: Vec<f32> = (0..rows * k).map(|i| ((i * 13 % 17) as f32 - 8.0) * 0.1).collect();
                        let mut out = vec![0f32; rows * n];
                        let a = Rows::quantize(&x, rows, k, p.block, p.ablock(), &serial);
                        let dst = Dst(out.as_mut_ptr());
                        unsafe { kernel(p, &a, 0..p.groups, dst) };
                        std::hint::black_box(&out);
                    }
                    if rep > 0 { t[which].push(start.elapsed().as_secs_f64() * 1e3); }
                }
            }
            for v in &mut t { v.sort_by(f64::total_cmp); }
            println!("rows {rows}: avx512 {:.3} ms, avx2 {:.3} ms, avx2/avx512 {:.3}", t[0][t[0].len() / 2], t[1][t[1].len() / 2], t[1][t[1].len() / 2] / t[0][t[0].len() / 2]);
        }
    }

    /// K-quant factors as a base per super-block against the same in f32:
    /// `cargo test --release -p kogi-core --lib nbits::timing::k_quant -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn k_quant_layouts() {
        let serial = |c: usize, f: &(dyn Fn(usize) + Sync)| (0..c).for_each(f);
        for (n, k, bits, block, mins) in [(17920, 1536, 4, 32, true), (1536, 8960, 4, 32, true)] {
            let kb = k / block;
            let per = SUPER / block;
            let b: Vec<u8> = (0..n * kb * block * bits / 8).map(|i| (i * 7 % 251) as u8).collect();
            let factors = |seed: u64, index: &dyn Fn(usize, usize) -> usize| {
                let mut r = tests_lcg(seed);
                let mut v = vec![0f32; n * kb];
                for c in 0..n {
                    for sb in 0..kb.div_ceil(per) {
                        let d = half::f16::from_f32(0.0005 + 0.001 * (r() % 1000) as f32 / 1000.0).to_f32();
                        for blk in sb * per..((sb + 1) * per).min(kb) {
                            v[index(c, blk)] = d * (r() % 64) as f32;
                        }
                    }
                }
                v
            };
            let scales = factors(1, &|c, blk| c * kb + blk);
            let m = mins.then(|| factors(2, &|c, blk| blk * n + c));
            let w = Weights { n, k, bits: bits as u8, block, b: &b, scales: &scales, zeros: None, mins: m.as_deref() };
            let two = Packed::new(&w).unwrap();
            assert!(matches!(two.scales, Factors::Two { .. }));
            let full = Packed { n, k, bits: bits as u8, block, groups: two.groups, codes: two.codes.clone(), scales: two.scales.widened(), zeros: Zeros::All(1 << (bits - 1)), mins: two.mins.as_ref().map(Factors::widened) };
            for rows in [1, 2, 4, 8, 16, 283] {
                let x: Vec<f32> = (0..rows * k).map(|i| ((i * 13 % 17) as f32 - 8.0) * 0.1).collect();
                let mut out = vec![0f32; rows * n];
                let reps = if rows > 1 { 5 } else { 20 };
                let mut time = |p: &Packed| {
                    p.matmul(&x, rows, &mut out, &serial).unwrap();
                    let t = std::time::Instant::now();
                    for _ in 0..reps {
                        p.matmul(&x, rows, &mut out, &serial).unwrap();
                    }
                    t.elapsed().as_secs_f64() / reps as f64 * 1e3
                };
                let (a, b, c, d) = (time(&full), time(&two), time(&full), time(&two));
                println!("n {n} k {k} {bits}-bit/{block} rows {rows}: f32 factors {a:.2} / {c:.2} ms, base per super-block {b:.2} / {d:.2} ms");
            }
        }
    }

    /// One `n × k` node's 4-bit codes with Q4_K's factors (a half-precision base per super-block times
    /// 6-bit integers, minimums likewise) and Q4_0's (half-precision scales), for the streaming timings.
    struct Q4 {
        n: usize,
        k: usize,
        b: Vec<u8>,
        scales: Vec<f32>,
        mins: Vec<f32>,
        halves: Vec<f32>,
        zeros: Vec<u8>,
    }

    impl Q4 {
        const BLOCK: usize = 32;

        fn new(n: usize, k: usize) -> Self {
            let kb = k / Self::BLOCK;
            let per = SUPER / Self::BLOCK;
            let mut r = tests_lcg(3);
            let mut k_quant = |index: &dyn Fn(usize, usize) -> usize| {
                let mut v = vec![0f32; n * kb];
                for c in 0..n {
                    for sb in 0..kb / per {
                        let d = half::f16::from_f32(0.0005 + 0.001 * (r() % 1000) as f32 / 1000.0).to_f32();
                        for blk in sb * per..(sb + 1) * per {
                            v[index(c, blk)] = d * (r() % 64) as f32;
                        }
                    }
                }
                v
            };
            let scales = k_quant(&|c, blk| c * kb + blk);
            let mins = k_quant(&|c, blk| blk * n + c).into_iter().map(|x| -x).collect();
            let halves = scales.iter().map(|&x| half::f16::from_f32(x * 3.0).to_f32()).collect();
            let b = (0..n * kb * Self::BLOCK / 2).map(|i| (i * 7 % 251) as u8).collect();
            Self { n, k, b, scales, mins, halves, zeros: vec![0; n * kb / 2] }
        }

        fn q4_0(&self) -> Weights<'_> {
            Weights { n: self.n, k: self.k, bits: 4, block: Self::BLOCK, b: &self.b, scales: &self.halves, zeros: None, mins: None }
        }

        fn q4_k(&self) -> Weights<'_> {
            Weights { n: self.n, k: self.k, bits: 4, block: Self::BLOCK, b: &self.b, scales: &self.scales, zeros: Some(&self.zeros), mins: Some(&self.mins) }
        }
    }

    /// One row through every node of `ps` (one shape), two threads each taking half of every node's
    /// columns as a decode step does, ten times: ms per pass over the nodes, and GB/s of their bytes.
    fn stream(ps: &[Packed]) -> (f64, f64) {
        let (n, k) = (ps[0].n, ps[0].k);
        let x: Vec<f32> = (0..k).map(|i| ((i * 13 % 17) as f32 - 8.0) * 0.1).collect();
        let a = Rows::quantize(&x, 1, k, Q4::BLOCK, ps[0].ablock(), &|c, f| (0..c).for_each(f));
        let mut out = vec![0f32; n];
        let dst = Dst(out.as_mut_ptr());
        let half = ps[0].groups / 2;
        let reps = 10;
        let t = std::time::Instant::now();
        std::thread::scope(|s| {
            for range in [0..half, half..ps[0].groups] {
                let a = &a;
                s.spawn(move || {
                    for _ in 0..reps {
                        for p in ps {
                            unsafe { groups_avx512(p, a, range.clone(), dst) };
                        }
                    }
                });
            }
        });
        let secs = t.elapsed().as_secs_f64() / reps as f64;
        let bytes: usize = ps.iter().map(|p| p.spans().iter().map(|r| r.len()).sum::<usize>()).sum();
        (secs * 1e3, bytes as f64 / secs / 1e9)
    }

    /// One-row passes streaming from memory (24 nodes of Qwen2-1.5B's `ffn_down` shape, ~170 MB), by
    /// factor layout:
    /// `cargo test --release -p kogi-core --lib nbits::timing::streaming -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn streaming() {
        let nodes = 24;
        let w = Q4::new(1536, 8960);
        let layouts: Vec<(&str, Vec<Packed>)> = vec![
            ("Q4_0 half scales", (0..nodes).map(|_| Packed::new(&w.q4_0()).unwrap()).collect()),
            ("Q4_K base per super-block", (0..nodes).map(|_| Packed::new(&w.q4_k()).unwrap()).collect()),
            ("Q4_K no mins", (0..nodes).map(|_| Packed::new(&Weights { mins: None, ..w.q4_k() }).unwrap()).collect()),
        ];
        for round in 0..5 {
            for (name, ps) in &layouts {
                let (ms, gbs) = stream(ps);
                println!("round {round} {name}: {ms:.2} ms for {nodes} nodes, {gbs:.1} GB/s");
            }
        }
    }

    /// Qwen2-1.5B's node shapes one row at a time from memory, Q4_K's layout (base per super-block,
    /// minimums) against Q4_0's (half-precision scales), each shape's nodes ~200 MB:
    /// `cargo test --release -p kogi-core --lib nbits::timing::shapes -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn shapes() {
        for (name, n, k) in [("qkv", 2048, 1536), ("o", 1536, 1536), ("gate_up", 17920, 1536), ("down", 1536, 8960)] {
            let nodes = (200 << 20) / (n * k / 2);
            let w = Q4::new(n, k);
            let a: Vec<Packed> = (0..nodes).map(|_| Packed::new(&w.q4_0()).unwrap()).collect();
            let b: Vec<Packed> = (0..nodes).map(|_| Packed::new(&w.q4_k()).unwrap()).collect();
            for round in 0..3 {
                let ((t0, g0), (t1, g1)) = (stream(&a), stream(&b));
                println!("{name} {n}×{k} ×{nodes}, round {round}: Q4_0 {t0:.2} ms {g0:.1} GB/s, Q4_K {t1:.2} ms {g1:.1} GB/s, time ratio {:.2}", t1 / t0);
            }
        }
    }

    fn tests_lcg(seed: u64) -> impl FnMut() -> u32 {
        let mut s = seed;
        move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) as u32
        }
    }
}
