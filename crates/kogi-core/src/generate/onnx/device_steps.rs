//! Decode steps that keep their inputs on the device. Everything a step reads or writes lives in
//! buffers allocated once (what a CUDA graph needs: it replays its kernels on the same addresses):
//! the KV cache of one sequence, two sets of step inputs (ids and attention mask), the logits, and
//! the picked id. A step reads one set and — through the decoder graph's step outputs
//! ([`super::graph`]) — writes the next step's ids and mask into the other set, so the next step
//! needs nothing from the host: one run (one CUDA-graph replay) per token and 8 bytes copied back.
//!
//! The host keeps a shadow of what each set holds; a step whose inputs are not in either set (the
//! first one, or after speculative verification) uploads them first.
//!
//! Speculative verification passes (the last token and up to eight drafts) run from the same
//! buffers, so they are replayed from CUDA graphs too: uncaptured, a pass costs ONNX Runtime's host
//! work for every node, which on an H200 made a verification 3–4 steps' worth for SmolLM2 and ~2 for
//! the 8B architecture at 2–4 rows. Their picks at every position come from one more small graph,
//! also replayed, that reads the pass's logits buffer ([`verify_head`]).

use super::graph::{NEXT_IDS, NEXT_MASK, PICKED, Picked, read_picked, verify_head};
use crate::inference::runtime::{Provider, SessionConfig, open_built};
use crate::{Error, Result};
use half::f16;
use ort::memory::Allocator;
use ort::session::{IoBinding, RunOptions, Session};
use ort::value::{DynValue, Tensor, TensorElementType};

/// Widest pass served from the fixed buffers: one-row steps, two-row exact steps and verification
/// of up to eight drafted tokens (the n-gram drafter's default longest draft). Wider passes run
/// uncaptured.
pub(super) const MAX_WIDTH: usize = 9;

fn rt(e: impl std::fmt::Display) -> Error {
    Error::Runtime(e.to_string())
}

/// What one input set is known to hold.
#[derive(Clone)]
struct Shadow {
    /// Per width (index `width - 1`): the ids in that width's buffer.
    ids: Vec<Option<Vec<i64>>>,
    /// Number of leading ones in the mask.
    mask_total: Option<usize>,
}

impl Default for Shadow {
    fn default() -> Self {
        Self { ids: vec![None; MAX_WIDTH], mask_total: None }
    }
}

/// The names the bindings need.
pub(super) struct Names<'a> {
    pub past: &'a [[String; 2]],
    pub present: &'a [[String; 2]],
    pub logits: &'a str,
}

pub(super) struct Resident {
    pub capacity: usize,
    /// Steps are captured and replayed as CUDA graphs.
    pub capture: bool,
    pub kv: Vec<[DynValue; 2]>,
    /// Per input set: the mask (`[1, capacity]`, ones for the cached tokens and the step's own).
    masks: [Tensor<i64>; 2],
    /// Per input set, per width: the step's ids.
    ids: [Vec<Tensor<i64>>; 2],
    shadow: [Shadow; 2],
    /// Where the graph writes the pick (`[1, 2]` f32), and its host copy when that is on the device.
    picked: Tensor<f32>,
    picked_host: Option<Tensor<f32>>,
    /// One binding per (width, input set), made once.
    bindings: Vec<IoBinding>,
    run_options: Vec<RunOptions>,
    /// Per width: the logits buffer the step bindings write; kept alive here, read on the device
    /// by the verification head's bindings.
    _logits: Vec<DynValue>,
    /// Picks at every position of a verification pass.
    verifier: Verifier,
    pub steps: u64,
    pub uploads: u64,
}

/// The verification head's session and its fixed buffers: per width, a binding that reads that
/// width's logits buffer and writes `[2 * MAX_WIDTH]` floats (ids, then log-probabilities).
struct Verifier {
    session: Session,
    bindings: Vec<IoBinding>,
    run_options: Vec<RunOptions>,
    picks: Tensor<f32>,
    picks_host: Option<Tensor<f32>>,
}

/// Run a session on a binding whose outputs are all preallocated, without fetching them back: the
/// `ort` crate's `run_binding` wraps every bound output (two per layer) in a new value each call.
pub(super) fn run_bound(session: &Session, binding: &IoBinding, options: &RunOptions) -> Result<()> {
    use ort::AsPointer;
    // SAFETY: the session, the binding (made from this session) and the options are live objects
    // borrowed for the call; the run writes only into the bound outputs.
    let status = unsafe { (ort::api().RunWithBinding)(session.ptr().cast_mut(), options.ptr(), binding.ptr()) };
    // SAFETY: `status` comes straight from the API call above.
    unsafe { ort::Error::result_from_status(status) }.map_err(rt)
}

/// Run options that make ONNX Runtime capture (the first time) and replay graph `id`; `None` runs
/// without capture (a capturing session would otherwise record every run as graph 0).
pub(super) fn graph_run_options(id: Option<usize>) -> Result<RunOptions> {
    let mut o = RunOptions::new().map_err(rt)?;
    o.set("gpu_graph_id", id.map(|i| i.to_string()).unwrap_or_else(|| "-1".into())).map_err(rt)?;
    Ok(o)
}

/// Read `out.len()` floats of `src`, a buffer a finished run wrote: on the device when `host` (a
/// host buffer of the same size, for ONNX Runtime's own copy) is given, else in host memory.
fn read_back(src: &Tensor<f32>, host: Option<&mut Tensor<f32>>, out: &mut [f32]) -> Result<()> {
    let n = out.len();
    match (host, crate::inference::cudart::runtime()) {
        // SAFETY: `src` is a live device tensor of at least `n` floats, and the run that wrote it has
        // returned (ONNX Runtime synchronises its stream at the end of a run).
        (Some(_), Some(cuda)) => unsafe { cuda.copy_to_host(out, src.data_ptr()) }.map_err(Error::Runtime)?,
        (Some(host), None) => {
            src.copy_into(&mut *host).map_err(rt)?;
            out.copy_from_slice(&host.try_extract_tensor::<f32>().map_err(rt)?.1[..n]);
        }
        (None, _) => out.copy_from_slice(&src.try_extract_tensor::<f32>().map_err(rt)?.1[..n]),
    }
    Ok(())
}

/// Copy `data` into a step buffer (on the device when `on_device`).
fn upload(on_device: bool, data: &[i64], dst: &mut Tensor<i64>) -> Result<()> {
    match crate::inference::cudart::runtime().filter(|_| on_device) {
        // SAFETY: `dst` is a live device tensor of `data.len()` int64 values, and no run is in
        // flight (every run has returned before the next pass starts).
        Some(cuda) => unsafe { cuda.copy_to_device(dst.data_ptr_mut(), data) }.map_err(Error::Runtime),
        None => Tensor::from_array(([1i64, data.len() as i64], data.to_vec())).map_err(rt)?.copy_into(dst).map_err(rt),
    }
}

impl Verifier {
    fn new(
        allocator: &Allocator,
        host: Option<&Allocator>,
        logits: &[DynValue],
        vocab: usize,
        logits_type: TensorElementType,
        capture: bool,
        (provider, config): (Provider, &SessionConfig),
    ) -> Result<Self> {
        let graph = verify_head(logits_type, vocab, MAX_WIDTH).map_err(rt)?;
        let session = open_built(&graph, provider, config, capture)?;
        let mut picks = Tensor::<f32>::new(allocator, [2 * MAX_WIDTH as i64]).map_err(rt)?;
        let picks_host = match host {
            Some(h) => Some(Tensor::<f32>::new(h, [2 * MAX_WIDTH as i64]).map_err(rt)?),
            None => None,
        };
        let mut bindings = Vec::new();
        let mut run_options = Vec::new();
        for (wi, l) in logits.iter().enumerate() {
            let mut b = session.create_binding().map_err(rt)?;
            b.bind_input("logits", l).map_err(rt)?;
            b.bind_output("picks", &mut picks).map_err(rt)?;
            bindings.push(b);
            run_options.push(if capture { graph_run_options(Some(1 + wi))? } else { RunOptions::new().map_err(rt)? });
        }
        Ok(Self { session, bindings, run_options, picks, picks_host })
    }

    /// Picks at the first `MAX_WIDTH` positions of the width-`w` logits (positions past `w` hold
    /// what earlier passes left: ignore them).
    fn run(&mut self, w: usize) -> Result<Vec<f32>> {
        run_bound(&self.session, &self.bindings[w - 1], &self.run_options[w - 1])?;
        let mut out = vec![0f32; 2 * MAX_WIDTH];
        read_back(&self.picks, self.picks_host.as_mut(), &mut out)?;
        Ok(out)
    }
}


fn binding_index(width: usize, set: usize) -> usize {
    (width - 1) * 2 + set
}

impl Resident {
    /// Allocate the buffers with `allocator` (the device's) and bind them. `kv` is one
    /// `[1, kv_heads, capacity, head_dim]` pair per layer; `host` is the CPU allocator when the
    /// device is not the CPU (the pick is copied there).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        session: &Session,
        allocator: &Allocator,
        host: Option<&Allocator>,
        kv: Vec<[DynValue; 2]>,
        capacity: usize,
        vocab: usize,
        logits_type: TensorElementType,
        capture: bool,
        names: Names<'_>,
        head: (Provider, &SessionConfig),
    ) -> Result<Self> {
        let new_ids = |w: usize| Tensor::<i64>::new(allocator, [1i64, w as i64]).map_err(rt);
        let mut ids: [Vec<Tensor<i64>>; 2] = [Vec::new(), Vec::new()];
        for set in ids.iter_mut() {
            for w in 1..=MAX_WIDTH {
                set.push(new_ids(w)?);
            }
        }
        let mut masks =
            [Tensor::<i64>::new(allocator, [1i64, capacity as i64]).map_err(rt)?, Tensor::<i64>::new(allocator, [1i64, capacity as i64]).map_err(rt)?];
        let mut logits = Vec::new();
        for w in 1..=MAX_WIDTH {
            let shape = [1i64, w as i64, vocab as i64];
            logits.push(match logits_type {
                TensorElementType::Float16 => Tensor::<f16>::new(allocator, shape).map_err(rt)?.into_dyn(),
                _ => Tensor::<f32>::new(allocator, shape).map_err(rt)?.into_dyn(),
            });
        }
        let mut picked = Tensor::<f32>::new(allocator, [1i64, 2]).map_err(rt)?;
        let picked_host = match host {
            Some(h) => Some(Tensor::<f32>::new(h, [1i64, 2]).map_err(rt)?),
            None => None,
        };
        let mut kv = kv;
        let mut bindings = Vec::new();
        let mut run_options = Vec::new();
        for (wi, w) in (1..=MAX_WIDTH).enumerate() {
            for set in 0..2 {
                debug_assert_eq!(binding_index(w, set), bindings.len());
                let mut b = session.create_binding().map_err(rt)?;
                let [a, z] = &mut ids;
                let (this, other) = if set == 0 { (&a[wi], &mut z[wi]) } else { (&z[wi], &mut a[wi]) };
                b.bind_input("input_ids", this).map_err(rt)?;
                b.bind_output(NEXT_IDS, other).map_err(rt)?;
                let [m0, m1] = &mut masks;
                let (this, other) = if set == 0 { (&*m0, m1) } else { (&*m1, m0) };
                b.bind_input("attention_mask", this).map_err(rt)?;
                b.bind_output(NEXT_MASK, other).map_err(rt)?;
                for (i, [k, v]) in kv.iter_mut().enumerate() {
                    b.bind_input(&names.past[i][0], &*k).map_err(rt)?;
                    b.bind_input(&names.past[i][1], &*v).map_err(rt)?;
                    b.bind_output(&names.present[i][0], &mut *k).map_err(rt)?;
                    b.bind_output(&names.present[i][1], &mut *v).map_err(rt)?;
                }
                b.bind_output(names.logits, &mut logits[wi]).map_err(rt)?;
                b.bind_output(PICKED, &mut picked).map_err(rt)?;
                bindings.push(b);
                // Graph ids start at 1 (0 is what a run without an id is captured as).
                run_options.push(if capture { graph_run_options(Some(1 + binding_index(w, set)))? } else { RunOptions::new().map_err(rt)? });
            }
        }
        let verifier = Verifier::new(allocator, host, &logits, vocab, logits_type, capture, head)?;
        Ok(Self {
            capacity,
            capture,
            verifier,
            kv,
            masks,
            ids,
            shadow: Default::default(),
            picked,
            picked_host,
            bindings,
            run_options,
            _logits: logits,
            steps: 0,
            uploads: 0,
        })
    }

    /// Whether `width` is served from the fixed buffers.
    pub(super) fn serves(&self, width: usize) -> bool {
        (1..=MAX_WIDTH).contains(&width)
    }

    /// One decode step: `ids` (one row of a served width) after `total - ids.len()` cached tokens.
    /// Returns the greedy choice after the last id.
    pub(super) fn step(&mut self, session: &mut Session, ids: &[i64], total: usize) -> Result<Picked> {
        let r = self.pass(session, ids, total, true);
        if r.is_err() {
            // A failed copy or run leaves the buffers in an unknown state.
            self.shadow = Default::default();
        }
        Ok(r?.expect("the pick was read"))
    }

    /// The same pass for speculative verification: the greedy choice after each of the last `want`
    /// ids, picked by the verification head from the pass's logits on the device.
    pub(super) fn verify(&mut self, session: &mut Session, ids: &[i64], total: usize, want: usize) -> Result<Picked> {
        if let Err(e) = self.pass(session, ids, total, false) {
            self.shadow = Default::default();
            return Err(e);
        }
        let w = ids.len();
        let picks = self.verifier.run(w)?;
        let (ids_f, lps) = picks.split_at(MAX_WIDTH);
        let rows = w - want.clamp(1, w)..w;
        Ok(Picked { ids: ids_f[rows.clone()].iter().map(|&i| i as u32).collect(), logprobs: lps[rows].to_vec() })
    }

    fn pass(&mut self, session: &mut Session, ids: &[i64], total: usize, fetch: bool) -> Result<Option<Picked>> {
        let w = ids.len();
        if !self.serves(w) || total > self.capacity || total < w {
            return Err(Error::Invalid(format!("a step of {w} ids to {total} tokens does not fit the step buffers")));
        }
        let wi = w - 1;
        let on_device = self.picked_host.is_some();
        let score = |s: &Shadow| 2 * u8::from(s.mask_total == Some(total)) + u8::from(s.ids[wi].as_deref() == Some(ids));
        let set = usize::from(score(&self.shadow[1]) > score(&self.shadow[0]));
        if self.shadow[set].ids[wi].as_deref() != Some(ids) {
            upload(on_device, ids, &mut self.ids[set][wi])?;
            self.shadow[set].ids[wi] = Some(ids.to_vec());
            self.uploads += 1;
        }
        if self.shadow[set].mask_total != Some(total) {
            let mut mask = vec![0i64; self.capacity];
            mask[..total].fill(1);
            upload(on_device, &mask, &mut self.masks[set])?;
            self.shadow[set].mask_total = Some(total);
            self.uploads += 1;
        }
        let i = binding_index(w, set);
        run_bound(session, &self.bindings[i], &self.run_options[i])?;
        self.steps += 1;
        let next_mask = (total < self.capacity).then_some(total + 1);
        if !fetch {
            // The other set now holds these ids shifted by one and an unread pick.
            let other = &mut self.shadow[1 - set];
            other.ids[wi] = None;
            other.mask_total = next_mask;
            return Ok(None);
        }
        let mut pair = [0f32; 2];
        read_back(&self.picked, self.picked_host.as_mut(), &mut pair)?;
        let (picked, logprobs) = read_picked(&pair);
        // The run wrote the next step's inputs into the other set.
        let mut next = ids[1..].to_vec();
        next.push(picked[0] as i64);
        let other = &mut self.shadow[1 - set];
        other.ids[wi] = Some(next);
        other.mask_total = next_mask;
        Ok(Some(Picked { ids: picked, logprobs }))
    }
}
