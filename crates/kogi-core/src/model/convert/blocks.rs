//! Weights as ONNX Runtime's `MatMulNBits` (and `GatherBlockQuantized`) take them, made from GGUF's
//! blocks without going through floats wherever the arithmetic allows:
//!
//! | GGUF | here | exact? |
//! |---|---|---|
//! | Q4_0 `d·(q−8)` | 4-bit, block 32, zero point 8 | yes |
//! | Q8_0 `d·q` | 8-bit, block 32, zero point 128 | yes |
//! | Q6_K `d·s·(q−32)`, 16 per scale | 8-bit, block 16, zero point 32 | yes |
//! | Q5_0 `d·(q−16)` | 8-bit, block 32, zero point 16 | yes |
//! | Q4_1 `d·q + m` | 4-bit, block 32, zero point 0, plus mins | yes |
//! | Q4_K `d·s·q − dmin·m`, 32 per scale | 4-bit, block 32, zero point 0, plus mins | yes |
//! | Q5_K, Q5_1 (same with 5-bit q) | 8-bit, block 32, zero point 0, plus mins | yes |
//! | F32/F16/BF16 | 8-bit, block 32, symmetric (`absmax/127`) | no: 8 bits per weight |
//!
//! A per-block minimum is not a zero point (`−m/d` is not an integer), and ONNX Runtime's float
//! zero points take a slow path that dequantises the whole matrix at every call (measured), so the
//! minimum is kept apart: `x·W = Σ_b d_b·(x_b·q_b) + Σ_b m_b·sum(x_b)`, the second term one small
//! `MatMul` of the input's block sums with the `[blocks, N]` matrix of minimums.

use crate::{Error, Result};
use candle_core::quantized::GgmlDType;
use half::f16;

/// One linear layer's weights for `MatMulNBits`: `n` output rows of `k` inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct NBits {
    pub bits: u8,
    pub block: usize,
    pub n: usize,
    pub k: usize,
    /// `[n][k / block][block · bits / 8]`: element `2i` in the low nibble of byte `i`, `2i+1` high.
    pub packed: Vec<u8>,
    /// `[n][k / block]`.
    pub scales: Vec<f32>,
    /// `[n][k / block]` zero points packed like `packed`; `None` = the default `2^(bits−1)`.
    pub zero_points: Option<Vec<u8>>,
    /// `[n][k / block]` added minimums; `None` when there are none.
    pub mins: Option<Vec<f32>>,
}

impl NBits {
    pub fn blocks_per_row(&self) -> usize {
        self.k / self.block
    }

    /// Bytes of one row's zero points.
    pub fn zero_point_row_bytes(&self) -> usize {
        (self.blocks_per_row() * self.bits as usize).div_ceil(8)
    }

    fn zero_point(&self, row: usize, b: usize) -> f32 {
        match &self.zero_points {
            None => (1u32 << (self.bits - 1)) as f32,
            Some(z) => {
                let row_bytes = self.zero_point_row_bytes();
                if self.bits == 4 {
                    let byte = z[row * row_bytes + b / 2];
                    (if b % 2 == 0 { byte & 0xF } else { byte >> 4 }) as f32
                } else {
                    z[row * row_bytes + b] as f32
                }
            }
        }
    }

    /// The weights as floats, `[n][k]` (what `MatMulNBits` computes with, before activations are
    /// quantised): for tests and for targets that take floats.
    pub fn dequantize(&self) -> Vec<f32> {
        let kb = self.blocks_per_row();
        let blob = self.block * self.bits as usize / 8;
        let mut out = vec![0f32; self.n * self.k];
        for r in 0..self.n {
            for b in 0..kb {
                let s = self.scales[r * kb + b];
                let z = self.zero_point(r, b);
                let m = self.mins.as_ref().map_or(0.0, |m| m[r * kb + b]);
                let bytes = &self.packed[(r * kb + b) * blob..(r * kb + b + 1) * blob];
                for j in 0..self.block {
                    let q = if self.bits == 4 { (bytes[j / 2] >> (4 * (j % 2))) & 0xF } else { bytes[j] };
                    out[r * self.k + b * self.block + j] = s * (q as f32 - z) + m;
                }
            }
        }
        out
    }
}

impl NBits {
    /// Matrices of the same input and block layout as one, their rows one after another.
    pub fn stacked(parts: Vec<NBits>) -> NBits {
        let mut it = parts.into_iter();
        let mut all = it.next().expect("at least one matrix");
        for p in it {
            debug_assert_eq!((p.bits, p.block, p.k), (all.bits, all.block, all.k));
            all.n += p.n;
            all.packed.extend(p.packed);
            all.scales.extend(p.scales);
            if let (Some(a), Some(b)) = (all.zero_points.as_mut(), p.zero_points) {
                a.extend(b);
            }
            if let (Some(a), Some(b)) = (all.mins.as_mut(), p.mins) {
                a.extend(b);
            }
        }
        all
    }

    /// Moves as much of each block's minimum as a whole step allows into its zero point:
    /// `d·q + m = d·(q − z) + (m + d·z)` with `z = round(−m/d)` in the code range. The same weights,
    /// but the `MatMulNBits` term is centred and the minimums' term stays within half a step, so
    /// fp16 activations do not lose the result to the cancellation of two large sums.
    pub fn centre_mins(&mut self) {
        let Some(mins) = self.mins.as_mut() else { return };
        let kb = self.k / self.block;
        let top = ((1u32 << self.bits) - 1) as f32;
        let mut zps = Vec::with_capacity(self.n * (kb * self.bits as usize).div_ceil(8));
        for r in 0..self.n {
            let mut row = Vec::with_capacity(kb);
            for b in 0..kb {
                let (d, m) = (self.scales[r * kb + b], &mut mins[r * kb + b]);
                let old = match &self.zero_points {
                    None => (1u32 << (self.bits - 1)) as f32,
                    Some(z) => {
                        let row_bytes = (kb * self.bits as usize).div_ceil(8);
                        let byte = z[r * row_bytes + if self.bits == 4 { b / 2 } else { b }];
                        (if self.bits != 4 { byte } else if b % 2 == 0 { byte & 0xF } else { byte >> 4 }) as f32
                    }
                };
                // Weights are d·(q − old) + m; fold old into m first.
                let m0 = *m - d * old;
                let z = if d != 0.0 { (-m0 / d).round().clamp(0.0, top) } else { 0.0 };
                *m = m0 + d * z;
                row.push(z as u8);
            }
            if self.bits == 4 {
                pack4(&row, &mut zps);
            } else {
                zps.extend(row);
            }
        }
        self.zero_points = Some(zps);
    }
}

/// Packs 4-bit values two to a byte (even index low).
fn pack4(values: &[u8], out: &mut Vec<u8>) {
    for pair in values.chunks(2) {
        out.push(pair[0] | (pair.get(1).copied().unwrap_or(0) << 4));
    }
}

fn half(bytes: &[u8]) -> f32 {
    f16::from_le_bytes([bytes[0], bytes[1]]).to_f32()
}

/// Q4_K / Q5_K packed 6-bit scale and minimum of sub-block `j` (ggml's `get_scale_min_k4`).
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// A GGML tensor of `rows × cols` (row-major, blocks along a row) as `MatMulNBits` weights.
pub fn from_ggml(dtype: GgmlDType, rows: usize, cols: usize, bytes: &[u8]) -> Result<NBits> {
    let bad = |what: &str| Error::Invalid(format!("a {dtype:?} tensor of {rows}×{cols} {what}"));
    let (block_elems, block_bytes) = (dtype.block_size(), dtype.type_size());
    if cols % block_elems != 0 {
        return Err(bad("has rows that are not whole blocks"));
    }
    if bytes.len() != rows * cols / block_elems * block_bytes {
        return Err(bad("has the wrong number of bytes (is the file truncated?)"));
    }
    let blocks = bytes.chunks_exact(block_bytes);
    let mut packed = Vec::new();
    let mut scales = Vec::new();
    let mut zps: Vec<u8> = Vec::new();
    let mut mins: Vec<f32> = Vec::new();
    let (bits, block, zero) = match dtype {
        GgmlDType::Q4_0 => {
            for b in blocks {
                scales.push(half(&b[0..2]));
                let qs = &b[2..18];
                let mut q = [0u8; 32];
                for i in 0..16 {
                    q[i] = qs[i] & 0xF;
                    q[i + 16] = qs[i] >> 4;
                }
                pack4(&q, &mut packed);
            }
            (4, 32, None)
        }
        GgmlDType::Q4_1 => {
            for b in blocks {
                scales.push(half(&b[0..2]));
                mins.push(half(&b[2..4]));
                let qs = &b[4..20];
                let mut q = [0u8; 32];
                for i in 0..16 {
                    q[i] = qs[i] & 0xF;
                    q[i + 16] = qs[i] >> 4;
                }
                pack4(&q, &mut packed);
            }
            (4, 32, Some(0u8))
        }
        GgmlDType::Q8_0 => {
            for b in blocks {
                scales.push(half(&b[0..2]));
                packed.extend(b[2..34].iter().map(|&q| q ^ 0x80)); // two's complement + 128
            }
            (8, 32, None)
        }
        GgmlDType::Q5_0 | GgmlDType::Q5_1 => {
            let with_min = dtype == GgmlDType::Q5_1;
            let head = if with_min { 4 } else { 2 };
            for b in blocks {
                scales.push(half(&b[0..2]));
                if with_min {
                    mins.push(half(&b[2..4]));
                }
                let qh = u32::from_le_bytes([b[head], b[head + 1], b[head + 2], b[head + 3]]);
                let qs = &b[head + 4..head + 20];
                let mut q = [0u8; 32];
                for i in 0..16 {
                    q[i] = (qs[i] & 0xF) | ((((qh >> i) & 1) as u8) << 4);
                    q[i + 16] = (qs[i] >> 4) | ((((qh >> (i + 16)) & 1) as u8) << 4);
                }
                packed.extend_from_slice(&q);
            }
            (8, 32, Some(if with_min { 0 } else { 16 }))
        }
        GgmlDType::Q4K => {
            for b in blocks {
                let (d, dmin) = (half(&b[0..2]), half(&b[2..4]));
                let sc = &b[4..16];
                let qs = &b[16..144];
                for j in 0..4 {
                    let (s1, m1) = scale_min_k4(2 * j, sc);
                    let (s2, m2) = scale_min_k4(2 * j + 1, sc);
                    let chunk = &qs[32 * j..32 * j + 32];
                    let lo: Vec<u8> = chunk.iter().map(|x| x & 0xF).collect();
                    let hi: Vec<u8> = chunk.iter().map(|x| x >> 4).collect();
                    scales.push(d * s1 as f32);
                    mins.push(-(dmin * m1 as f32));
                    pack4(&lo, &mut packed);
                    scales.push(d * s2 as f32);
                    mins.push(-(dmin * m2 as f32));
                    pack4(&hi, &mut packed);
                }
            }
            (4, 32, Some(0))
        }
        GgmlDType::Q5K => {
            for b in blocks {
                let (d, dmin) = (half(&b[0..2]), half(&b[2..4]));
                let sc = &b[4..16];
                let qh = &b[16..48];
                let qs = &b[48..176];
                for j in 0..4 {
                    let (s1, m1) = scale_min_k4(2 * j, sc);
                    let (s2, m2) = scale_min_k4(2 * j + 1, sc);
                    let ql = &qs[32 * j..32 * j + 32];
                    let (u1, u2) = (1u8 << (2 * j), 2u8 << (2 * j));
                    scales.push(d * s1 as f32);
                    mins.push(-(dmin * m1 as f32));
                    packed.extend((0..32).map(|l| (ql[l] & 0xF) + if qh[l] & u1 != 0 { 16 } else { 0 }));
                    scales.push(d * s2 as f32);
                    mins.push(-(dmin * m2 as f32));
                    packed.extend((0..32).map(|l| (ql[l] >> 4) + if qh[l] & u2 != 0 { 16 } else { 0 }));
                }
            }
            (8, 32, Some(0))
        }
        GgmlDType::Q6K => {
            for b in blocks {
                let (ql_all, qh_all, sc_all) = (&b[0..128], &b[128..192], &b[192..208]);
                let d = half(&b[208..210]);
                let mut q = [0u8; 256];
                for n in 0..2 {
                    let (ql, qh) = (&ql_all[64 * n..], &qh_all[32 * n..]);
                    for l in 0..32 {
                        let y = &mut q[128 * n..];
                        y[l] = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
                        y[l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
                        y[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                        y[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
                    }
                }
                // Sixteen scales of sixteen values each, in order.
                for (i, &s) in sc_all.iter().enumerate() {
                    scales.push(d * (s as i8) as f32);
                    packed.extend_from_slice(&q[16 * i..16 * i + 16]);
                }
            }
            (8, 16, Some(32))
        }
        other => {
            return Err(Error::Invalid(format!("tensor type {other:?} has no block mapping")));
        }
    };
    let kb = cols / block;
    let zero_points = zero.map(|z| {
        for _ in 0..rows {
            if bits == 4 {
                pack4(&vec![z; kb], &mut zps);
            } else {
                zps.extend(std::iter::repeat_n(z, kb));
            }
        }
        zps
    });
    Ok(NBits { bits, block, n: rows, k: cols, packed, scales, zero_points, mins: (!mins.is_empty()).then_some(mins) })
}

/// Float weights `[rows][cols]` as symmetric 8-bit blocks of 32 (scale `absmax / 127`).
pub fn int8_from_floats(rows: usize, cols: usize, w: &[f32]) -> Result<NBits> {
    if cols % 32 != 0 {
        return Err(Error::Invalid(format!("a {rows}×{cols} matrix has rows that are not whole blocks of 32")));
    }
    let mut packed = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(w.len() / 32);
    for block in w.chunks_exact(32) {
        let amax = block.iter().fold(0f32, |a, &x| a.max(x.abs()));
        let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
        scales.push(s);
        packed.extend(block.iter().map(|&x| ((x / s).round().clamp(-127.0, 127.0) as i32 + 128) as u8));
    }
    Ok(NBits { bits: 8, block: 32, n: rows, k: cols, packed, scales, zero_points: None, mins: None })
}

/// Float weights `[rows][cols]` as asymmetric 4-bit blocks of 32 (round to nearest; each block's
/// range widened to hold zero, so a zero weight stays exactly zero).
pub fn int4_from_floats(rows: usize, cols: usize, w: &[f32]) -> Result<NBits> {
    if cols % 32 != 0 {
        return Err(Error::Invalid(format!("a {rows}×{cols} matrix has rows that are not whole blocks of 32")));
    }
    let kb = cols / 32;
    let mut packed = Vec::with_capacity(w.len() / 2);
    let mut scales = Vec::with_capacity(w.len() / 32);
    let mut zero_points = Vec::with_capacity(rows * kb.div_ceil(2));
    let mut q = [0u8; 32];
    for row in w.chunks_exact(cols) {
        let mut zps = Vec::with_capacity(kb);
        for block in row.chunks_exact(32) {
            let (lo, hi) = block.iter().fold((0f32, 0f32), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            let s = if hi > lo { (hi - lo) / 15.0 } else { 1.0 };
            let z = (-lo / s).round().clamp(0.0, 15.0);
            for (q, &x) in q.iter_mut().zip(block) {
                *q = ((x / s).round() + z).clamp(0.0, 15.0) as u8;
            }
            pack4(&q, &mut packed);
            scales.push(s);
            zps.push(z as u8);
        }
        pack4(&zps, &mut zero_points);
    }
    Ok(NBits { bits: 4, block: 32, n: rows, k: cols, packed, scales, zero_points: Some(zero_points), mins: None })
}

/// llama.cpp's re-quantisation to Q4_0 (`llama-quantize --allow-requantize … Q4_0`): the blocks
/// dequantised as ggml does, then rounded as ggml's reference quantiser rounds — symmetric 4-bit codes
/// around 8 and a half-precision scale per 32 — through candle's ports of both, so the blocks are
/// llama.cpp's bit for bit ([`Target::CpuFast`](super::decoder::Target::CpuFast)).
pub fn q4_0_from(dtype: GgmlDType, rows: usize, cols: usize, bytes: &[u8]) -> Result<NBits> {
    let (block_elems, block_bytes) = (dtype.block_size(), dtype.type_size());
    if cols % block_elems != 0 || bytes.len() != rows * cols / block_elems * block_bytes {
        return Err(Error::Invalid(format!("a {dtype:?} tensor of {rows}×{cols} has the wrong number of bytes (is the file truncated?)")));
    }
    let cpu = candle_core::Device::Cpu;
    let q = candle_core::quantized::QStorage::from_data(std::borrow::Cow::Borrowed(bytes), &cpu, dtype)
        .and_then(|s| candle_core::quantized::QTensor::new(s, (rows, cols)))
        .and_then(|q| q.dequantize(&cpu))
        .map_err(|e| Error::Invalid(format!("a {dtype:?} tensor of {rows}×{cols} could not be read: {e}")))?;
    q4_0_from_tensor(&q, rows, cols)
}

/// Float weights rounded as [`q4_0_from`] rounds.
pub fn q4_0_from_floats(rows: usize, cols: usize, w: &[f32]) -> Result<NBits> {
    let t = candle_core::Tensor::from_slice(w, (rows, cols), &candle_core::Device::Cpu).map_err(|e| Error::Invalid(format!("a {rows}×{cols} matrix: {e}")))?;
    q4_0_from_tensor(&t, rows, cols)
}

fn q4_0_from_tensor(t: &candle_core::Tensor, rows: usize, cols: usize) -> Result<NBits> {
    if cols % 32 != 0 {
        return Err(Error::Invalid(format!("a {rows}×{cols} matrix has rows that are not whole blocks of 32")));
    }
    let q = candle_core::quantized::QTensor::quantize(t, GgmlDType::Q4_0).map_err(|e| Error::Invalid(format!("a {rows}×{cols} matrix: {e}")))?;
    let bytes = q.data().map_err(|e| Error::Invalid(format!("a {rows}×{cols} matrix: {e}")))?;
    from_ggml(GgmlDType::Q4_0, rows, cols, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    /// Quantise random weights with candle's own quantisers, map the blocks, and compare the
    /// mapping's floats with candle's dequantisation: the mapping loses nothing.
    fn round_trip(dtype: GgmlDType, rows: usize, cols: usize) -> NBits {
        let w: Vec<f32> = (0..rows * cols).map(|i| ((i as f32 * 0.7311).sin() * 1.3) + ((i % 7) as f32 - 3.0) * 0.05).collect();
        let t = Tensor::from_vec(w, (rows, cols), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&t, dtype).unwrap();
        let reference: Vec<f32> = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let bytes = q.data().unwrap();
        let nb = from_ggml(dtype, rows, cols, &bytes).unwrap();
        let mine = nb.dequantize();
        let worst = mine.iter().zip(&reference).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0f32, f32::max);
        assert!(worst <= 2e-7, "{dtype:?}: largest difference {worst}");
        nb
    }

    #[test]
    fn every_supported_block_type_maps_without_loss() {
        assert_eq!(round_trip(GgmlDType::Q4_0, 4, 64).bits, 4);
        assert!(round_trip(GgmlDType::Q4_1, 4, 64).mins.is_some());
        assert_eq!(round_trip(GgmlDType::Q8_0, 4, 64).bits, 8);
        round_trip(GgmlDType::Q5_0, 3, 64);
        round_trip(GgmlDType::Q5_1, 3, 64);
        let k4 = round_trip(GgmlDType::Q4K, 3, 512);
        assert_eq!((k4.bits, k4.block), (4, 32));
        round_trip(GgmlDType::Q5K, 3, 512);
        let k6 = round_trip(GgmlDType::Q6K, 3, 512);
        assert_eq!((k6.bits, k6.block), (8, 16));
    }

    #[test]
    fn int4_blocks_stay_within_half_a_step_of_the_floats_and_keep_zero() {
        let mut w: Vec<f32> = (0..3 * 96).map(|i| (i as f32 * 0.37).cos() * (1.0 + (i % 5) as f32)).collect();
        w[7] = 0.0;
        w[100..132].iter_mut().for_each(|x| *x = 0.25); // a constant block
        let nb = int4_from_floats(3, 96, &w).unwrap();
        assert_eq!((nb.bits, nb.block, nb.packed.len(), nb.zero_point_row_bytes()), (4, 32, 3 * 96 / 2, 2));
        let back = nb.dequantize();
        for (i, (a, b)) in back.iter().zip(&w).enumerate() {
            assert!((a - b).abs() <= nb.scales[i / 32] * 0.5 + 1e-6, "weight {i}: {a} for {b}");
        }
        assert_eq!(back[7], 0.0);
    }

    #[test]
    fn centred_minimums_give_the_same_weights_and_stay_within_half_a_step() {
        for dtype in [GgmlDType::Q4_1, GgmlDType::Q4K, GgmlDType::Q5K] {
            let nb = round_trip(dtype, 3, 512);
            let mut centred = nb.clone();
            centred.centre_mins();
            let (a, b) = (nb.dequantize(), centred.dequantize());
            let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(worst < 1e-5, "{dtype:?}: the weights moved by {worst}");
            let mins = centred.mins.as_ref().unwrap();
            let inside = mins.iter().zip(&centred.scales).filter(|(m, d)| m.abs() <= d.abs() * 0.5 + 1e-6).count();
            assert!(inside * 10 >= mins.len() * 9, "{dtype:?}: {inside} of {} minimums within half a step", mins.len());
        }
    }

    #[test]
    fn int8_blocks_stay_within_half_a_step_of_the_floats() {
        let w: Vec<f32> = (0..2 * 64).map(|i| (i as f32 * 0.37).cos()).collect();
        let nb = int8_from_floats(2, 64, &w).unwrap();
        for (i, (a, b)) in nb.dequantize().iter().zip(&w).enumerate() {
            assert!((a - b).abs() <= nb.scales[i / 32] * 0.5 + 1e-6);
        }
    }
}
