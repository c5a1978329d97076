//! Voice activity: Silero VAD (v6, the ONNX export faster-whisper ships) gives a speech probability
//! for every 32 ms of 16 kHz sound. Frames are 512 samples with the 64 before them as context, run in
//! batches of up to 10,000 frames with the recurrent state carried across batches — exactly as
//! faster-whisper runs it, so both hear speech in the same places.

use super::manifest::{ModelDir, REBUILD_HINT};
use super::runtime::{SessionConfig, open_session};
use crate::inference::runtime::Provider;
use crate::{Error, Result};
use ort::session::Session;
use ort::value::Tensor;
use std::sync::Mutex;

pub const FRAME: usize = 512;
const CONTEXT: usize = 64;
const BATCH: usize = 10_000;
const STATE: usize = 128;

pub struct SileroVad {
    session: Mutex<Session>,
}

impl SileroVad {
    pub fn open(model: ModelDir) -> Result<Self> {
        model.check()?;
        // A small recurrent model: one thread, on the CPU (as faster-whisper runs it).
        let config = SessionConfig { provider: Provider::Cpu, threads: Some(1), cuda_graph: false, ..Default::default() };
        let path = model.file("model")?;
        let (session, _) = open_session(&path, &config).map_err(|e| {
            model.verify().err().unwrap_or(Error::Model { model: model.manifest.name.clone(), message: format!("{e} — {REBUILD_HINT}") })
        })?;
        Ok(Self { session: Mutex::new(session) })
    }

    /// A new pass over one recording.
    pub fn stream(&self) -> VadStream<'_> {
        VadStream { vad: self, h: vec![0.0; STATE], c: vec![0.0; STATE], tail: [0.0; CONTEXT], pending: Vec::new(), seen: 0, probs: Vec::new() }
    }

    fn run(&self, rows: &[f32], n: usize, h: &mut Vec<f32>, c: &mut Vec<f32>) -> Result<Vec<f32>> {
        let rt = |e: ort::Error| Error::Runtime(e.to_string());
        let mut session = self.session.lock().map_err(|_| Error::Runtime("VAD session poisoned".into()))?;
        let out = session
            .run(ort::inputs![
                "input" => Tensor::from_array(([n as i64, (FRAME + CONTEXT) as i64], rows.to_vec())).map_err(rt)?,
                "h" => Tensor::from_array(([1i64, 1, STATE as i64], h.clone())).map_err(rt)?,
                "c" => Tensor::from_array(([1i64, 1, STATE as i64], c.clone())).map_err(rt)?,
            ])
            .map_err(rt)?;
        let probs = out[0].try_extract_tensor::<f32>().map_err(rt)?.1.to_vec();
        *h = out[1].try_extract_tensor::<f32>().map_err(rt)?.1.to_vec();
        *c = out[2].try_extract_tensor::<f32>().map_err(rt)?.1.to_vec();
        Ok(probs)
    }
}

/// Speech probabilities of a recording, fed a piece at a time.
pub struct VadStream<'a> {
    vad: &'a SileroVad,
    h: Vec<f32>,
    c: Vec<f32>,
    /// The last 64 samples of the previous frame.
    tail: [f32; CONTEXT],
    pending: Vec<f32>,
    seen: usize,
    /// One per frame so far.
    pub probs: Vec<f32>,
}

impl VadStream<'_> {
    pub fn push(&mut self, samples: &[f32]) -> Result<()> {
        self.seen += samples.len();
        self.pending.extend_from_slice(samples);
        while self.pending.len() >= BATCH * FRAME {
            self.batch(BATCH)?;
        }
        Ok(())
    }

    /// The end: the last frame is padded with zeros (a whole frame of zeros when the length is a
    /// multiple of 512, as faster-whisper pads). Returns the probabilities and the sample count.
    pub fn finish(mut self) -> Result<(Vec<f32>, usize)> {
        let pad = FRAME - self.pending.len() % FRAME;
        self.pending.extend(std::iter::repeat_n(0.0, pad));
        while !self.pending.is_empty() {
            let n = (self.pending.len() / FRAME).min(BATCH);
            self.batch(n)?;
        }
        Ok((self.probs, self.seen))
    }

    fn batch(&mut self, n: usize) -> Result<()> {
        let mut rows = Vec::with_capacity(n * (FRAME + CONTEXT));
        for frame in self.pending[..n * FRAME].chunks_exact(FRAME) {
            rows.extend_from_slice(&self.tail);
            rows.extend_from_slice(frame);
            self.tail.copy_from_slice(&frame[FRAME - CONTEXT..]);
        }
        self.pending.drain(..n * FRAME);
        let p = self.vad.run(&rows, n, &mut self.h, &mut self.c)?;
        self.probs.extend(p);
        Ok(())
    }
}
