//! kogi's own CPU kernel for the decoder's `MatMulNBits` nodes: 4- and 8-bit weights in blocks of
//! 32 with int8 activations (ONNX Runtime's `accuracy_level` 4; llama.cpp computes the same way).
//! Two reasons to have it: prompt passes are mostly these products (75% of a 283-token prompt's
//! kernel time in ONNX Runtime's), and ONNX Runtime's kernel rounds a row differently depending on
//! how many rows the pass has, which is why exact decoding pays for two-row steps. Here a row's
//! result never depends on the other rows: each activation row is quantised on its own (a scale per
//! block of 32), every block's integer dot product is exact, and the per-block floats are summed in
//! one fixed order whatever the pass's size.
//!
//! Semantics are ONNX Runtime's com.microsoft `MatMulNBits` (`B` as `[n][k/32][32·bits/8]`, low
//! nibble first; scales `[n][k/32]`; optional packed uint8 zero points, default `2^(bits−1)`).
//! Nodes are switched to this kernel when kogi opens a float32 decoder on a CPU with AVX-512 VNNI
//! and `KOGI_MATMUL=kogi` ([`super::graph::with_own_kernels`]; opt-in while its one-row steps are
//! slower than ONNX Runtime's); the file stays as it is.

use ort::operator::{BoxedKernel, ComputeContext, KernelContext, Operator, OperatorInput, OperatorOutput};
use ort::value::TensorElementType;

/// Weights per block (the only block size the kernel takes).
pub const BLOCK: usize = 32;
/// Two blocks' worth of int8 values: one 512-bit register.
const PAIR: usize = 2 * BLOCK;
/// Columns computed together, so each activation load serves several.
const COLS: usize = 4;
/// Rows computed together, so each weight load serves several.
const ROWS: usize = 4;
/// Columns per parallel task.
const TASK_COLS: usize = 64;

/// One node's weights as ONNX Runtime hands them over.
pub struct Weights<'a> {
    pub n: usize,
    pub k: usize,
    pub bits: u8,
    pub b: &'a [u8],
    pub scales: &'a [f32],
    pub zeros: Option<&'a [u8]>,
}

impl Weights<'_> {
    fn blocks(&self) -> usize {
        self.k / BLOCK
    }

    fn check(&self) -> Result<(), String> {
        let kb = self.blocks();
        if !matches!(self.bits, 4 | 8) || self.k % BLOCK != 0 || self.k == 0 || (self.bits == 8 && self.zeros.is_some()) {
            return Err(format!("MatMulNBits: {}-bit weights over {} inputs are not what kogi's kernel takes", self.bits, self.k));
        }
        let zero_row = (kb * self.bits as usize).div_ceil(8);
        if self.b.len() != self.n * kb * BLOCK * self.bits as usize / 8 || self.scales.len() != self.n * kb || self.zeros.is_some_and(|z| z.len() != self.n * zero_row) {
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

/// Activation rows quantised to int8 and stored offset by 128 (unsigned, as the byte dot product
/// takes them), a scale per block, laid out as the kernel reads them: per pair of blocks 64 bytes,
/// for 4-bit weights `[block 0 even, block 1 even, block 0 odd, block 1 odd]` (16 each, the nibbles'
/// order), for 8-bit the two blocks as they are. A missing second block (an odd count) is zeros
/// with scale 0.
struct Quantized {
    pairs: usize,
    q: Vec<u8>,
    /// `[row][2·pairs]` block scales.
    scale: Vec<f32>,
}

impl Quantized {
    fn new(rows: usize, k: usize) -> Self {
        let pairs = (k / BLOCK).div_ceil(2);
        Self { pairs, q: vec![128; rows * pairs * PAIR], scale: vec![0.0; rows * 2 * pairs] }
    }

    /// Row `r`'s slices: (values, scales).
    fn slot(&mut self, r: usize) -> (&mut [u8], &mut [f32]) {
        let pairs = self.pairs;
        (&mut self.q[r * pairs * PAIR..(r + 1) * pairs * PAIR], &mut self.scale[r * 2 * pairs..(r + 1) * 2 * pairs])
    }
}

/// Quantises one activation row into its slot of a [`Quantized`]: round(x · 127 / max|block|),
/// ties to even.
fn quantize_row(row: &[f32], nibbles: bool, q: &mut [u8], scale: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if vnni() {
        // SAFETY: the CPU has the features; slices sized by `Quantized`.
        return unsafe { quantize_row_avx512(row, nibbles, q, scale) };
    }
    quantize_row_plain(row, nibbles, q, scale)
}

/// [`quantize_row_plain`] in vector registers: the same bytes and scales.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn quantize_row_avx512(row: &[f32], nibbles: bool, q: &mut [u8], scale: &mut [f32]) {
    use std::arch::x86_64::*;
    let even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    let odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    let c128 = _mm512_set1_epi32(128);
    for (blk, x) in row.chunks_exact(BLOCK).enumerate() {
        unsafe {
            let x0 = _mm512_loadu_ps(x.as_ptr());
            let x1 = _mm512_loadu_ps(x.as_ptr().add(16));
            let amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
            let (d, inv) = if amax > 0.0 { (amax / 127.0, 127.0 / amax) } else { (0.0, 0.0) };
            let v = _mm512_set1_ps(inv);
            let q0 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(x0, v)), c128);
            let q1 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(x1, v)), c128);
            let base = (blk / 2) * PAIR;
            let (first, then, at0, at1) = if nibbles {
                (_mm512_permutex2var_epi32(q0, even, q1), _mm512_permutex2var_epi32(q0, odd, q1), base + (blk % 2) * 16, base + BLOCK + (blk % 2) * 16)
            } else {
                (q0, q1, base + (blk % 2) * BLOCK, base + (blk % 2) * BLOCK + 16)
            };
            _mm_storeu_si128(q.as_mut_ptr().add(at0) as *mut _, _mm512_cvtepi32_epi8(first));
            _mm_storeu_si128(q.as_mut_ptr().add(at1) as *mut _, _mm512_cvtepi32_epi8(then));
            scale[blk] = d;
        }
    }
}

fn quantize_row_plain(row: &[f32], nibbles: bool, q: &mut [u8], scale: &mut [f32]) {
    for (blk, x) in row.chunks_exact(BLOCK).enumerate() {
        let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        let (d, inv) = if amax > 0.0 { (amax / 127.0, 127.0 / amax) } else { (0.0, 0.0) };
        let base = (blk / 2) * PAIR;
        for (j, &v) in x.iter().enumerate() {
            let v = (v * inv).round_ties_even() as i32;
            let at = if nibbles { base + (j % 2) * BLOCK + (blk % 2) * 16 + j / 2 } else { base + (blk % 2) * BLOCK + j };
            q[at] = (v + 128) as u8;
        }
        scale[blk] = d;
    }
}

/// `out[m][n] = Σ_k x[m][k] · w[n][k]` for `rows` rows of `x` (`[rows][k]`), columns spread by `par`.
pub fn matmul(w: &Weights, x: &[f32], rows: usize, out: &mut [f32], par: super::attention::Par) -> Result<(), String> {
    w.check()?;
    if x.len() != rows * w.k || out.len() != rows * w.n {
        return Err("MatMulNBits: input and output of inconsistent sizes".into());
    }
    let mut qx = Quantized::new(rows, w.k);
    let nibbles = w.bits == 4;
    if rows >= 16 {
        let pairs = qx.pairs;
        let (q, scale) = (Ptr(qx.q.as_mut_ptr()), Ptr(qx.scale.as_mut_ptr()));
        let per = 8;
        par(rows.div_ceil(per), &|t| {
            for r in t * per..((t + 1) * per).min(rows) {
                // SAFETY: row r's ranges of the two buffers are written by this task only.
                let (q, scale) = unsafe { (q.slice(r * pairs * PAIR, pairs * PAIR), scale.slice(r * 2 * pairs, 2 * pairs)) };
                quantize_row(&x[r * w.k..(r + 1) * w.k], nibbles, q, scale);
            }
        });
    } else {
        for r in 0..rows {
            let (q, scale) = qx.slot(r);
            quantize_row(&x[r * w.k..(r + 1) * w.k], nibbles, q, scale);
        }
    }
    let kernel = pick();
    let dst = Dst(out.as_mut_ptr());
    par(w.n.div_ceil(TASK_COLS), &|t| {
        let cols = t * TASK_COLS..((t + 1) * TASK_COLS).min(w.n);
        // SAFETY: a task writes only its own columns of `out`; the kernel was picked for this CPU.
        unsafe { kernel(w, &qx, rows, cols, dst) };
    });
    Ok(())
}

#[derive(Clone, Copy)]
struct Ptr<T>(*mut T);
// SAFETY: tasks take disjoint ranges (see `matmul`).
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
impl Dst {
    /// # Safety
    /// `i` within the output, written by one task only.
    unsafe fn put(&self, i: usize, v: f32) {
        unsafe { *self.0.add(i) = v };
    }
}

type Kernel = unsafe fn(&Weights, &Quantized, usize, std::ops::Range<usize>, Dst);

fn pick() -> Kernel {
    #[cfg(target_arch = "x86_64")]
    if vnni() {
        return columns_avx512;
    }
    columns_plain
}

/// Whether this CPU runs the vector kernel (and so whether nodes are switched to it at all).
pub fn vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bw") && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Column `col` for the kernel: its weights less their zero points (`pairs × 64` signed bytes in the
/// activations' layout), `−128 ×` each 4-byte lane's sum of them (so the byte dot product with the
/// activations offset by 128 starts from the offset's share and comes out exact), and its block
/// scales as 16-lane patterns (`pairs × 16`).
fn unpack_column(w: &Weights, col: usize, pairs: usize, codes: &mut [i8], offset: &mut [i32], pattern: &mut [f32]) {
    let kb = w.blocks();
    codes.fill(0);
    let blob = BLOCK * w.bits as usize / 8;
    for blk in 0..kb {
        let src = &w.b[(col * kb + blk) * blob..(col * kb + blk + 1) * blob];
        let base = (blk / 2) * PAIR;
        let z = w.zero(col, blk) as i32;
        // 8-bit nodes are switched only without zero points (z = 128), so every value fits an i8.
        if w.bits == 4 {
            for (j, &byte) in src.iter().enumerate() {
                codes[base + (blk % 2) * 16 + j] = ((byte & 0xF) as i32 - z) as i8;
                codes[base + BLOCK + (blk % 2) * 16 + j] = ((byte >> 4) as i32 - z) as i8;
            }
        } else {
            for (j, &byte) in src.iter().enumerate() {
                codes[base + (blk % 2) * BLOCK + j] = (byte as i32 - z).clamp(-128, 127) as i8;
            }
        }
    }
    for (o, lane) in offset.iter_mut().zip(codes.chunks_exact(4)) {
        *o = -128 * lane.iter().map(|&c| c as i32).sum::<i32>();
    }
    for p in 0..pairs {
        let s = |b: usize| if b < kb { w.scales[col * kb + b] } else { 0.0 };
        let (s0, s1) = (s(2 * p), s(2 * p + 1));
        for (lane, v) in pattern[p * 16..(p + 1) * 16].iter_mut().enumerate() {
            *v = if second(w.bits, lane) { s1 } else { s0 };
        }
    }
}

/// Whether 4-byte lane `lane` of a pair belongs to its second block: 4-bit pairs are
/// `[b0, b1, b0, b1]` × 4 lanes (even values, then odd), 8-bit `[b0, b1]` × 8.
fn second(bits: u8, lane: usize) -> bool {
    if bits == 4 { (lane / 4) % 2 == 1 } else { lane >= 8 }
}

/// Portable kernel, the same integer sums as the vector one, its float sums in another order
/// (tests, and CPUs where nodes are not switched).
unsafe fn columns_plain(w: &Weights, qx: &Quantized, rows: usize, cols: std::ops::Range<usize>, dst: Dst) {
    let pairs = qx.pairs;
    let mut codes = vec![0i8; pairs * PAIR];
    let mut offset = vec![0i32; pairs * 16];
    let mut pattern = vec![0f32; pairs * 16];
    for col in cols {
        unpack_column(w, col, pairs, &mut codes, &mut offset, &mut pattern);
        for m in 0..rows {
            let q = &qx.q[m * pairs * PAIR..(m + 1) * pairs * PAIR];
            let sa = &qx.scale[m * 2 * pairs..(m + 1) * 2 * pairs];
            let mut acc = [0f32; 16];
            for p in 0..pairs {
                for (lane, acc) in acc.iter_mut().enumerate() {
                    let at = p * PAIR + lane * 4;
                    let dot: i32 = offset[p * 16 + lane] + (0..4).map(|i| q[at + i] as i32 * codes[at + i] as i32).sum::<i32>();
                    *acc = (dot as f32).mul_add(pattern[p * 16 + lane] * sa[2 * p + second(w.bits, lane) as usize], *acc);
                }
            }
            // SAFETY: (m, col) belongs to this task.
            unsafe { dst.put(m * w.n + col, acc.iter().sum::<f32>()) };
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn columns_avx512(w: &Weights, qx: &Quantized, rows: usize, cols: std::ops::Range<usize>, dst: Dst) {
    if rows == 1 {
        // SAFETY: as for this function.
        return unsafe { one_row_avx512(w, qx, 0, cols, dst) };
    }
    let pairs = qx.pairs;
    let mut codes = vec![0i8; COLS * pairs * PAIR];
    let mut offset = vec![0i32; COLS * pairs * 16];
    let mut pattern = vec![0f32; COLS * pairs * 16];
    let mut c0 = cols.start;
    while c0 < cols.end {
        let width = (cols.end - c0).min(COLS);
        for c in 0..width {
            let (lo, hi) = (c * pairs, (c + 1) * pairs);
            // SAFETY: the caller checked the CPU; buffers sized above.
            unsafe { unpack_avx512(w, c0 + c, pairs, &mut codes[lo * PAIR..hi * PAIR], &mut offset[lo * 16..hi * 16], &mut pattern[lo * 16..hi * 16]) };
        }
        let mut m = 0;
        while m < rows {
            let mut y = [[0f32; COLS]; ROWS];
            let done = if width == COLS { (rows - m).min(ROWS) } else { 1 };
            // SAFETY: buffers sized above; the caller checked the CPU.
            unsafe {
                match (width, done) {
                    (4, 4) => group::<4, 4>(w.bits, qx, m, &codes, &offset, &pattern, &mut y),
                    (4, 3) => group::<4, 3>(w.bits, qx, m, &codes, &offset, &pattern, &mut y),
                    (4, 2) => group::<4, 2>(w.bits, qx, m, &codes, &offset, &pattern, &mut y),
                    (4, _) => group::<4, 1>(w.bits, qx, m, &codes, &offset, &pattern, &mut y),
                    (3, _) => group::<3, 1>(w.bits, qx, m, &codes, &offset, &pattern, &mut y),
                    (2, _) => group::<2, 1>(w.bits, qx, m, &codes, &offset, &pattern, &mut y),
                    _ => group::<1, 1>(w.bits, qx, m, &codes, &offset, &pattern, &mut y),
                }
            }
            for (r, y) in y[..done].iter().enumerate() {
                for (c, v) in y[..width].iter().enumerate() {
                    // SAFETY: (m + r, c0 + c) belongs to this task.
                    unsafe { dst.put((m + r) * w.n + c0 + c, *v) };
                }
            }
            m += done;
        }
        c0 += width;
    }
}

/// [`unpack_column`] in vector registers: the same bytes, offsets and patterns.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn unpack_avx512(w: &Weights, col: usize, pairs: usize, codes: &mut [i8], offset: &mut [i32], pattern: &mut [f32]) {
    use std::arch::x86_64::*;
    let u = Unpack::new(w);
    unsafe {
        for p in 0..pairs {
            let (v, start, sw) = u.pair(w, col, p);
            _mm512_storeu_si512(codes.as_mut_ptr().add(p * PAIR) as *mut _, v);
            _mm512_storeu_si512(offset.as_mut_ptr().add(p * 16) as *mut _, start);
            _mm512_storeu_ps(pattern.as_mut_ptr().add(p * 16), sw);
        }
    }
}

/// What unpacking a column's pair of blocks needs, set up once per call.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Unpack {
    idx: std::arch::x86_64::__m512i,
    second: u64,
    zero_patterns: &'static [[u8; PAIR]; 256],
    kb: usize,
    blob: usize,
    zero_row: usize,
}

#[cfg(target_arch = "x86_64")]
impl Unpack {
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn new(w: &Weights) -> Self {
        use std::arch::x86_64::*;
        let kb = w.blocks();
        Self {
            // Which of the pair's two scales each lane takes (see `second`).
            idx: if w.bits == 4 { _mm512_set_epi32(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0) } else { _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0) },
            // Bytes of the pair's second block: 16..32 and 48..64 (4-bit), 32..64 (8-bit).
            second: if w.bits == 4 { 0xFFFF_0000_FFFF_0000 } else { 0xFFFF_FFFF_0000_0000 },
            zero_patterns: zero_patterns(),
            kb,
            blob: BLOCK * w.bits as usize / 8,
            zero_row: kb.div_ceil(2),
        }
    }

    /// Pair `p` of column `col`: its weights less their zero points, −128 × each lane's sum of them
    /// (what the activations' offset of 128 adds to the byte dot product), its scales per lane.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    unsafe fn pair(&self, w: &Weights, col: usize, p: usize) -> (std::arch::x86_64::__m512i, std::arch::x86_64::__m512i, std::arch::x86_64::__m512) {
        use std::arch::x86_64::*;
        let full = 2 * p + 1 < self.kb;
        let c128 = _mm512_set1_epi8(-128);
        let zero = _mm512_setzero_si512();
        unsafe {
            let src = w.b.as_ptr().add((col * self.kb + 2 * p) * self.blob);
            let v = if w.bits == 4 {
                let nib = _mm256_set1_epi8(0xF);
                let raw = if full { _mm256_loadu_si256(src as *const _) } else { _mm256_castsi128_si256(_mm_loadu_si128(src as *const _)) };
                let lo = _mm256_and_si256(raw, nib);
                let hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nib);
                // Blocks 2p and 2p + 1 share zero-point byte p (low nibble first).
                let zb = match w.zeros {
                    Some(z) => *z.get_unchecked(col * self.zero_row + p),
                    None => 0x88,
                };
                let z = _mm512_loadu_si512(self.zero_patterns[zb as usize].as_ptr() as *const _);
                let v = _mm512_sub_epi8(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), z);
                if full { v } else { _mm512_maskz_mov_epi8(!self.second, v) }
            } else {
                let raw = if full { _mm512_loadu_si512(src as *const _) } else { _mm512_castsi256_si512(_mm256_loadu_si256(src as *const _)) };
                // Codes less 128 (8-bit nodes have no zero points).
                _mm512_maskz_mov_epi8(if full { u64::MAX } else { !self.second }, _mm512_xor_si512(raw, c128))
            };
            let start = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, c128, v));
            let s = _mm512_maskz_loadu_ps(if full { 0b11 } else { 0b01 }, w.scales.as_ptr().add(col * self.kb + 2 * p));
            (v, start, _mm512_permutexvar_ps(self.idx, s))
        }
    }
}

/// For each zero-point byte (low nibble: the pair's first block, high: its second), the 64 bytes
/// subtracted from a 4-bit pair's codes.
fn zero_patterns() -> &'static [[u8; PAIR]; 256] {
    static TABLE: std::sync::OnceLock<Box<[[u8; PAIR]; 256]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([[0u8; PAIR]; 256]);
        for (zb, row) in t.iter_mut().enumerate() {
            for (i, v) in row.iter_mut().enumerate() {
                let second = (i / 16) % 2 == 1;
                *v = if second { (zb >> 4) as u8 } else { (zb & 0xF) as u8 };
            }
        }
        t
    })
}

/// One row against columns `cols`, unpacking each pair in registers: the same operations on the
/// same values as [`group`], so the same bits, without the unpacked copy a single row cannot reuse.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn one_row_avx512(w: &Weights, qx: &Quantized, m: usize, cols: std::ops::Range<usize>, dst: Dst) {
    use std::arch::x86_64::*;
    let pairs = qx.pairs;
    let u = Unpack::new(w);
    // The row's activations and scale patterns, read once for all columns.
    let (a, s): (Vec<__m512i>, Vec<__m512>) = unsafe {
        (0..pairs)
            .map(|p| {
                let a = _mm512_loadu_si512(qx.q.as_ptr().add((m * pairs + p) * PAIR) as *const _);
                (a, _mm512_permutexvar_ps(u.idx, _mm512_maskz_loadu_ps(0b11, qx.scale.as_ptr().add(m * 2 * pairs + 2 * p))))
            })
            .unzip()
    };
    let mut col = cols.start;
    unsafe {
        while col + COLS <= cols.end {
            let mut acc = [_mm512_setzero_ps(); COLS];
            for p in 0..pairs {
                for (c, acc) in acc.iter_mut().enumerate() {
                    let (wv, start, sw) = u.pair(w, col + c, p);
                    let d = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, a[p], wv));
                    *acc = _mm512_fmadd_ps(d, _mm512_mul_ps(sw, s[p]), *acc);
                }
            }
            for (c, acc) in acc.iter().enumerate() {
                dst.put(m * w.n + col + c, _mm512_reduce_add_ps(*acc));
            }
            col += COLS;
        }
        for col in col..cols.end {
            let mut acc = _mm512_setzero_ps();
            for p in 0..pairs {
                let (wv, start, sw) = u.pair(w, col, p);
                let d = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, a[p], wv));
                acc = _mm512_fmadd_ps(d, _mm512_mul_ps(sw, s[p]), acc);
            }
            dst.put(m * w.n + col, _mm512_reduce_add_ps(acc));
        }
    }
}

/// Rows `m..m + R` against `C` unpacked columns. Each (row, column) sum is the same chain of
/// operations whatever `C`, `R`, the row or the pass, so results do not depend on how a pass is cut.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::too_many_arguments)]
unsafe fn group<const C: usize, const R: usize>(bits: u8, qx: &Quantized, m: usize, codes: &[i8], offset: &[i32], pattern: &[f32], y: &mut [[f32; COLS]; ROWS]) {
    use std::arch::x86_64::*;
    let pairs = qx.pairs;
    // Which of the pair's two scales each lane takes (see `second`).
    let idx = if bits == 4 { _mm512_set_epi32(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0) } else { _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0) };
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    unsafe {
        for p in 0..pairs {
            let mut a = [_mm512_setzero_si512(); R];
            let mut s = [_mm512_setzero_ps(); R];
            for r in 0..R {
                a[r] = _mm512_loadu_si512(qx.q.as_ptr().add(((m + r) * pairs + p) * PAIR) as *const _);
                s[r] = _mm512_permutexvar_ps(idx, _mm512_maskz_loadu_ps(0b11, qx.scale.as_ptr().add((m + r) * 2 * pairs + 2 * p)));
            }
            for c in 0..C {
                let at = c * pairs + p;
                let wv = _mm512_loadu_si512(codes.as_ptr().add(at * PAIR) as *const _);
                let start = _mm512_loadu_si512(offset.as_ptr().add(at * 16) as *const _);
                let sw = _mm512_loadu_ps(pattern.as_ptr().add(at * 16));
                for r in 0..R {
                    let d = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, a[r], wv));
                    acc[r][c] = _mm512_fmadd_ps(d, _mm512_mul_ps(sw, s[r]), acc[r][c]);
                }
            }
        }
        for r in 0..R {
            for c in 0..C {
                y[r][c] = _mm512_reduce_add_ps(acc[r][c]);
            }
        }
    }
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
        [OperatorInput::required(Float32), OperatorInput::required(Uint8), OperatorInput::required(Float32), OperatorInput::optional(Uint8)]
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        [OperatorOutput::required(TensorElementType::Float32)]
    }

    fn create_kernel<'attr>(&self, k: &KernelContext<'attr>) -> ort::Result<Self::Kernel<'attr>> {
        let get = |name: &str| k.get::<i64>(name).unwrap_or(0).max(0) as usize;
        let (n, kk, bits) = (get("N"), get("K"), get("bits") as u8);
        Ok(Box::new(move |ctx: &ComputeContext| compute(n, kk, bits, ctx)))
    }
}

fn missing(what: &str) -> ort::Error {
    ort::Error::new(format!("MatMulNBits: no {what}"))
}

fn compute(n: usize, k: usize, bits: u8, ctx: &ComputeContext) -> ort::Result<()> {
    let a = ctx.input(0)?.ok_or_else(|| missing("input"))?;
    let b = ctx.input(1)?.ok_or_else(|| missing("weights"))?;
    let s = ctx.input(2)?.ok_or_else(|| missing("scales"))?;
    let z = ctx.input(3)?;
    let (shape, x) = a.try_extract_tensor::<f32>()?;
    let w = Weights {
        n,
        k,
        bits,
        b: b.try_extract_tensor::<u8>()?.1,
        scales: s.try_extract_tensor::<f32>()?.1,
        zeros: match &z {
            Some(z) => Some(z.try_extract_tensor::<u8>()?.1),
            None => None,
        },
    };
    if shape.last().copied() != Some(k as i64) {
        return Err(ort::Error::new(format!("MatMulNBits: input of {:?} for {k} inputs", &shape[..])));
    }
    let rows = x.len() / k.max(1);
    let mut out_shape: Vec<i64> = shape.to_vec();
    *out_shape.last_mut().expect("checked above") = n as i64;
    let mut out = ctx.output(0, out_shape)?.ok_or_else(|| missing("output"))?;
    let (_, out) = out.try_extract_tensor_mut::<f32>()?;
    let par = |count: usize, f: &(dyn Fn(usize) + Sync)| super::on_pool(ctx, count, f);
    matmul(&w, x, rows, out, &par).map_err(ort::Error::new)
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

    struct Owned {
        n: usize,
        k: usize,
        bits: u8,
        b: Vec<u8>,
        scales: Vec<f32>,
        zeros: Option<Vec<u8>>,
    }

    impl Owned {
        fn random(n: usize, k: usize, bits: u8, zeros: bool, seed: u64) -> Self {
            let mut r = Lcg(seed);
            let kb = k / BLOCK;
            let b = (0..n * kb * BLOCK * bits as usize / 8).map(|_| r.next() as u8).collect();
            let scales = (0..n * kb).map(|_| 0.01 + 0.02 * r.float().abs()).collect();
            let zeros = zeros.then(|| (0..n * (kb * bits as usize).div_ceil(8)).map(|_| r.next() as u8).collect());
            Self { n, k, bits, b, scales, zeros }
        }
        fn weights(&self) -> Weights<'_> {
            Weights { n: self.n, k: self.k, bits: self.bits, b: &self.b, scales: &self.scales, zeros: self.zeros.as_deref() }
        }
        /// `[n][k]` as floats.
        fn dequantized(&self) -> Vec<f64> {
            let w = self.weights();
            let kb = self.k / BLOCK;
            let mut out = vec![0f64; self.n * self.k];
            for c in 0..self.n {
                for blk in 0..kb {
                    for j in 0..BLOCK {
                        let code = if self.bits == 4 {
                            let byte = self.b[(c * kb + blk) * 16 + j / 2];
                            if j % 2 == 0 { byte & 0xF } else { byte >> 4 }
                        } else {
                            self.b[(c * kb + blk) * 32 + j]
                        };
                        out[c * self.k + blk * BLOCK + j] = self.scales[c * kb + blk] as f64 * (code as f64 - w.zero(c, blk) as f64);
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
        for (bits, zeros, k) in [(4, true, 576), (4, false, 96), (8, false, 576), (8, false, 160), (4, true, 1536)] {
            let w = Owned::random(37, k, bits, zeros, k as u64 + bits as u64);
            let mut r = Lcg(7);
            let rows = 5;
            let x: Vec<f32> = (0..rows * k).map(|_| r.float() * 3.0).collect();
            let got = run(&w.weights(), &x, rows);
            let deq = w.dequantized();
            for m in 0..rows {
                for c in 0..w.n {
                    let exact: f64 = (0..k).map(|i| x[m * k + i] as f64 * deq[c * k + i]).sum();
                    let size: f64 = (0..k).map(|i| (x[m * k + i] as f64 * deq[c * k + i]).abs()).sum();
                    let err = (got[m * w.n + c] as f64 - exact).abs();
                    // int8 activations: half a step of 1/127 of each block's largest value.
                    assert!(err <= 0.01 * size, "{bits}-bit k {k} row {m} col {c}: {} vs {exact} (size {size})", got[m * w.n + c]);
                }
            }
        }
    }

    #[test]
    fn the_vector_kernel_agrees_with_the_portable_one() {
        if !vnni() {
            return;
        }
        for (bits, zeros, k) in [(4, true, 576), (4, false, 96), (8, false, 544)] {
            let w = Owned::random(70, k, bits, zeros, 3);
            let mut r = Lcg(11);
            let rows = 3;
            let x: Vec<f32> = (0..rows * k).map(|_| r.float()).collect();
            let fast = run(&w.weights(), &x, rows);
            let mut qx = Quantized::new(rows, k);
            for m in 0..rows {
                let (q, scale) = qx.slot(m);
                quantize_row(&x[m * k..(m + 1) * k], bits == 4, q, scale);
            }
            let mut plain = vec![0f32; rows * w.n];
            unsafe { columns_plain(&w.weights(), &qx, rows, 0..w.n, Dst(plain.as_mut_ptr())) };
            for (a, b) in fast.iter().zip(&plain) {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn vector_quantisation_gives_the_same_bytes_as_the_portable_one() {
        if !vnni() {
            return;
        }
        let mut r = Lcg(13);
        let mut x: Vec<f32> = (0..160).map(|_| r.float() * 5.0).collect();
        x[32..64].fill(0.0);
        x[70] = 0.5 * 127.0 / 127.0;
        for nibbles in [true, false] {
            let (mut a, mut b) = (Quantized::new(1, 160), Quantized::new(1, 160));
            let (qa, sa) = a.slot(0);
            unsafe { quantize_row_avx512(&x, nibbles, qa, sa) };
            let (qb, sb) = b.slot(0);
            quantize_row_plain(&x, nibbles, qb, sb);
            assert_eq!((a.q, a.scale), (b.q, b.scale));
        }
    }

    #[test]
    fn a_row_comes_out_the_same_bit_for_bit_in_a_pass_of_any_size() {
        let w = Owned::random(150, 576, 4, true, 5);
        let mut r = Lcg(9);
        let rows = 40;
        let x: Vec<f32> = (0..rows * 576).map(|_| r.float()).collect();
        let all = run(&w.weights(), &x, rows);
        for m in [0, 1, 17, 39] {
            let one = run(&w.weights(), &x[m * 576..(m + 1) * 576], 1);
            assert_eq!(one, all[m * 150..(m + 1) * 150], "row {m}");
        }
        let two = run(&w.weights(), &x[576..3 * 576], 2);
        assert_eq!(two, all[150..450]);
    }

    #[test]
    fn weights_of_the_wrong_size_are_refused() {
        let w = Owned::random(4, 64, 4, false, 1);
        let bad = Weights { scales: &w.scales[1..], ..w.weights() };
        let mut out = vec![0f32; 4];
        assert!(matmul(&bad, &[0.0; 64], 1, &mut out, &serial).unwrap_err().contains("inconsistent"));
        let odd = Weights { k: 48, ..w.weights() };
        assert!(matmul(&odd, &[0.0; 48], 1, &mut out, &serial).is_err());
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// `cargo test --release -p kogi-core --lib nbits::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn time_the_kernel() {
        for (n, k, rows, bits) in [(3072, 576, 283, 4), (576, 1536, 283, 4), (3072, 576, 1, 4), (576, 1536, 1, 4), (49152, 576, 1, 8)] {
            let kb = k / BLOCK;
            let b: Vec<u8> = (0..n * kb * BLOCK * bits / 8).map(|i| (i * 7 % 251) as u8).collect();
            let scales = vec![0.01f32; n * kb];
            let zeros: Option<Vec<u8>> = (bits == 4).then(|| vec![0x88; n * kb.div_ceil(2)]);
            let w = Weights { n, k, bits: bits as u8, b: &b, scales: &scales, zeros: zeros.as_deref() };
            let x: Vec<f32> = (0..rows * k).map(|i| ((i * 13 % 17) as f32 - 8.0) * 0.1).collect();
            let mut out = vec![0f32; rows * n];
            let serial = |c: usize, f: &(dyn Fn(usize) + Sync)| (0..c).for_each(f);
            let reps = if rows > 1 { 5 } else { 50 };
            matmul(&w, &x, rows, &mut out, &serial).unwrap();
            let t = std::time::Instant::now();
            for _ in 0..reps {
                matmul(&w, &x, rows, &mut out, &serial).unwrap();
            }
            let per = t.elapsed().as_secs_f64() / reps as f64;
            let t = std::time::Instant::now();
            let mut qx = Quantized::new(rows, k);
            for _ in 0..reps {
                for r in 0..rows {
                    let (q, s) = qx.slot(r);
                    quantize_row(&x[r * k..(r + 1) * k], bits == 4, q, s);
                }
            }
            let quant = t.elapsed().as_secs_f64() / reps as f64;
            println!("n {n} k {k} rows {rows} bits {bits}: {:.3} ms (quantising {:.3} ms), {:.1} GMAC/s one thread", per * 1e3, quant * 1e3, (n * k * rows) as f64 / per / 1e9);
        }
    }
}
