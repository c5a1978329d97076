//! ONNX Runtime: finding the library, choosing the execution provider, opening sessions.
//!
//! A provider the user asked for that cannot load is an error naming what is missing; only `auto`
//! falls back (TensorRT → CUDA → CPU), and it reports what it fell back from.

use crate::{Error, Result};
use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The library version kogi is built against (`api-31`).
pub const ORT_VERSION: &str = "1.31.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    #[default]
    Auto,
    Cpu,
    Cuda,
    #[serde(rename = "tensorrt")]
    TensorRt,
}

impl std::str::FromStr for Provider {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "auto" => Self::Auto,
            "cpu" => Self::Cpu,
            "cuda" => Self::Cuda,
            "tensorrt" | "trt" => Self::TensorRt,
            other => return Err(Error::Invalid(format!("unknown execution provider {other:?} — use auto, cpu, cuda or tensorrt"))),
        })
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::TensorRt => "tensorrt",
        })
    }
}

/// How to open a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionConfig {
    pub provider: Provider,
    /// Intra-op threads; `None` lets ONNX Runtime use every core.
    pub threads: Option<usize>,
    /// Where TensorRT keeps built engines so they are built once.
    pub tensorrt_cache: Option<PathBuf>,
    /// TensorRT optimisation profile shapes, e.g. `input_ids:1x1` (min/opt/max), for dynamic inputs.
    pub tensorrt_profile: Option<[String; 3]>,
    /// Capture decode steps as CUDA graphs and replay them (CUDA provider, decoders only: the
    /// decoder keeps its step buffers at fixed addresses for this; other sessions never capture).
    #[serde(default = "yes")]
    pub cuda_graph: bool,
    /// The graph computes in fp16 (a model converted for a GPU). On the CPU its weights are then
    /// not pre-packed: ONNX Runtime 1.31.1 pre-packs the 4-bit weights of such a graph wrongly
    /// there (measured: logits off by half their scale; right with pre-packing off).
    #[serde(default)]
    pub half_graph: bool,
    /// A graph kogi converted: ONNX Runtime's warning that an input has a default value (its
    /// `logits_from`, on purpose) is not the user's concern, so the session logs errors only.
    #[serde(skip)]
    pub kogi_graph: bool,
    /// Write ONNX Runtime's own profile (per-node times, Chrome trace JSON) to files starting with
    /// this path; ONNX Runtime adds a timestamp and writes when the session closes (benchmarks).
    #[serde(skip)]
    pub profile: Option<PathBuf>,
}

fn yes() -> bool {
    true
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self { provider: Provider::Auto, threads: None, tensorrt_cache: None, tensorrt_profile: None, cuda_graph: true, half_graph: false, kogi_graph: false, profile: None }
    }
}

/// TensorRT workspace: enough for 8B-class decoder layers in fp16, small next to the weights.
pub const TENSORRT_WORKSPACE: usize = 4 << 30;

/// The TensorRT min/opt/max profile shapes of a decoder in the genai layout: 1..`max_batch` rows,
/// 1..`context` new tokens (one token per step, prefill up to the window), 0..`context` cached ones.
/// TensorRT builds one engine per profile, so dynamic inputs need all three.
pub fn decoder_tensorrt_profile(layers: usize, kv_heads: usize, head_dim: usize, context: usize, max_batch: usize, opt_prompt: usize) -> [String; 3] {
    let shapes = |b: usize, s: usize, past: usize, total: usize| {
        let mut v = vec![format!("input_ids:{b}x{s}"), format!("attention_mask:{b}x{total}")];
        for i in 0..layers {
            for kv in ["key", "value"] {
                v.push(format!("past_key_values.{i}.{kv}:{b}x{kv_heads}x{past}x{head_dim}"));
            }
        }
        v.join(",")
    };
    let opt = opt_prompt.clamp(1, context);
    [shapes(1, 1, 0, 1), shapes(1, 1, opt, opt + 1), shapes(max_batch.max(1), context, context, context)]
}

/// Folders searched for the TensorRT libraries when explaining why the provider did not load.
fn library_dirs(ort_library: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = ort_library.parent() {
        dirs.push(d.to_owned());
    }
    for var in ["LD_LIBRARY_PATH", "TENSORRT_HOME"] {
        if let Some(v) = std::env::var_os(var) {
            for d in std::env::split_paths(&v) {
                dirs.push(d.clone());
                dirs.push(d.join("lib"));
            }
        }
    }
    for d in ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib", "/usr/local/cuda/lib64", "/usr/local/tensorrt/lib", "/opt/tensorrt/lib"] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// The first library TensorRT needs that is in none of `dirs` (the ONNX Runtime provider bridge,
/// then TensorRT 10 itself).
pub fn missing_tensorrt_library(dirs: &[PathBuf]) -> Option<&'static str> {
    const NEEDED: [&str; 4] =
        ["libonnxruntime_providers_tensorrt.so", "libnvinfer.so.10", "libnvinfer_plugin.so.10", "libnvonnxparser.so.10"];
    NEEDED.into_iter().find(|lib| !dirs.iter().any(|d| d.join(lib).exists()))
}

/// The provider a session really runs on, and what `auto` tried before it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ts_rs::TS)]
pub struct ProviderReport {
    pub requested: Provider,
    pub in_use: Provider,
    /// (provider, why it was not used) for each provider `auto` skipped.
    pub fell_back: Vec<(Provider, String)>,
}

impl std::fmt::Display for ProviderReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.in_use)?;
        if self.requested == Provider::Auto {
            f.write_str(" (auto")?;
            for (p, why) in &self.fell_back {
                write!(f, "; {p} unavailable: {why}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Where the ONNX Runtime library is looked for, in order.
pub fn library_candidates() -> Vec<PathBuf> {
    let name = format!("libonnxruntime.so.{ORT_VERSION}");
    let mut c = Vec::new();
    for var in ["KOGI_ORT_LIB", "ORT_DYLIB_PATH"] {
        if let Some(p) = std::env::var_os(var) {
            c.push(PathBuf::from(p));
        }
    }
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.to_owned())) {
        c.push(dir.join(&name));
        c.push(dir.join("../lib/kogi").join(&name));
    }
    c.push(crate::paths::data_dir().join("onnxruntime").join(&name));
    // The checkout's setup script puts it here; the path is baked in at build time for `cargo run`.
    if let Some(p) = option_env!("ORT_DYLIB_PATH") {
        c.push(PathBuf::from(p));
    }
    c
}

struct Loaded {
    env: ort::environment::Environment,
    library: PathBuf,
}

static RUNTIME: OnceLock<std::result::Result<Loaded, String>> = OnceLock::new();

fn loaded() -> Result<&'static Loaded> {
    RUNTIME
        .get_or_init(|| {
            let candidates = library_candidates();
            let Some(library) = candidates.iter().find(|p| p.is_file()).cloned() else {
                return Err(format!(
                    "the ONNX Runtime library (libonnxruntime.so.{ORT_VERSION}) was not found; looked in: {} — run `scripts/setup.sh` or set KOGI_ORT_LIB to its path",
                    candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                ));
            };
            let builder = ort::init_from(&library)
                .map_err(|e| format!("cannot load {}: {e} — run `scripts/setup.sh` to fetch onnxruntime {ORT_VERSION}", library.display()))?;
            let env = builder
                .with_name("kogi")
                .build()
                .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", library.display()))?;
            // The `ort` crate starts the environment at verbose level (its logs go to `tracing`, which
            // filters them): ONNX Runtime would then format every verbose message of every run, 3-6% of
            // a CPU decode step. `ORT_LOG=verbose` (read here) keeps them for debugging.
            if std::env::var("ORT_LOG").as_deref() != Ok("verbose") {
                env.set_log_level(ort::logging::LogLevel::Warning);
            }
            tracing::debug!(library = %library.display(), "ONNX Runtime loaded");
            Ok(Loaded { env, library })
        })
        .as_ref()
        .map_err(|e| Error::Runtime(e.clone()))
}

/// The library in use (loads it if needed).
pub fn library_path() -> Result<PathBuf> {
    Ok(loaded()?.library.clone())
}

fn provider_error(p: Provider, e: impl std::fmt::Display) -> String {
    let what = match p {
        Provider::Cuda => "the CUDA provider needs the GPU build of ONNX Runtime (onnxruntime-gpu), CUDA 13 and cuDNN 9 on the library path",
        Provider::TensorRt => "the TensorRT provider needs the GPU build of ONNX Runtime and TensorRT 10 (libnvinfer.so.10) for CUDA 13 on the library path",
        _ => "",
    };
    format!("{e} — {what}")
}

/// Open a model file on the configured provider. Such sessions never capture CUDA graphs: their
/// input shapes vary from run to run (only the decoder replays fixed-shape steps).
pub fn open_session(model: &Path, config: &SessionConfig) -> Result<(Session, ProviderReport)> {
    let config = SessionConfig { cuda_graph: false, ..config.clone() };
    open_session_with(model, &config, &|b: &mut SessionBuilder, _| b.commit_from_file(model))
}

/// Open a model built in memory (a serialized `ModelProto`, e.g. the decoder's on-device greedy
/// head) on exactly `provider`, capturing CUDA graphs only when `capture` (every run must then name
/// its graph).
pub fn open_built(model: &[u8], provider: Provider, config: &SessionConfig, capture: bool) -> Result<Session> {
    let rt = loaded()?;
    let config = SessionConfig { provider, cuda_graph: capture && provider == Provider::Cuda, ..config.clone() };
    let mut builder = builder_for(rt, provider, &config).map_err(|e| match e {
        TryError::Provider(s) | TryError::Model(s) => Error::Runtime(s),
    })?;
    builder.commit_from_memory(model).map_err(|e| Error::Runtime(format!("cannot build the on-device head: {e}")))
}

/// Open a model file on the configured provider with a custom commit (e.g. one that edits the
/// graph on load); `commit` learns which provider the builder is set up for.
pub fn open_session_with(
    model: &Path,
    config: &SessionConfig,
    commit: &dyn Fn(&mut SessionBuilder, Provider) -> ort::Result<Session>,
) -> Result<(Session, ProviderReport)> {
    let rt = loaded()?;
    let model_name = model.display().to_string();
    let order: &[Provider] = match config.provider {
        Provider::Auto => &[Provider::TensorRt, Provider::Cuda, Provider::Cpu],
        Provider::Cpu => &[Provider::Cpu],
        Provider::Cuda => &[Provider::Cuda],
        Provider::TensorRt => &[Provider::TensorRt],
    };
    let mut fell_back = Vec::new();
    for &p in order {
        match try_open(rt, model, p, config, commit) {
            Ok(session) => {
                let report = ProviderReport { requested: config.provider, in_use: p, fell_back };
                if !report.fell_back.is_empty() {
                    tracing::info!(model = %model_name, provider = %report, "execution provider fell back");
                }
                return Ok((session, report));
            }
            Err(TryError::Provider(why)) if config.provider == Provider::Auto => fell_back.push((p, why)),
            Err(TryError::Provider(why)) => {
                return Err(Error::Runtime(format!("execution provider {p} cannot be used: {why}")));
            }
            Err(TryError::Model(why)) => {
                return Err(Error::Model { model: model_name, message: why });
            }
        }
    }
    Err(Error::Runtime("no execution provider could be used".into()))
}

enum TryError {
    Provider(String),
    Model(String),
}

fn try_open(
    rt: &Loaded,
    model: &Path,
    p: Provider,
    config: &SessionConfig,
    commit: &dyn Fn(&mut SessionBuilder, Provider) -> ort::Result<Session>,
) -> std::result::Result<Session, TryError> {
    let model_err = |e: ort::Error| {
        TryError::Model(format!("{e} — the file may be damaged or not an ONNX model; rebuild it (see models/README.md)"))
    };
    let mut builder = builder_for(rt, p, config)?;
    if !model.is_file() {
        return Err(TryError::Model(format!("{} is missing — rebuild the model (see models/README.md)", model.display())));
    }
    commit(&mut builder, p).map_err(|e| {
        let s = e.to_string();
        // Provider libraries are loaded lazily, at commit: a missing libcudart/libnvinfer shows up here.
        if p != Provider::Cpu && (s.contains(".so") || s.contains("CUDA") || s.contains("TensorRT")) {
            TryError::Provider(provider_error(p, explain_tensorrt(rt, p, s)))
        } else {
            model_err(e)
        }
    })
}

/// ONNX Runtime's own message when TensorRT fails to load, with the library that is missing.
fn explain_tensorrt(rt: &Loaded, p: Provider, message: String) -> String {
    if p != Provider::TensorRt {
        return message;
    }
    match missing_tensorrt_library(&library_dirs(&rt.library)) {
        Some(lib) => format!("{lib} was not found ({message})"),
        None => message,
    }
}

fn builder_for(rt: &Loaded, p: Provider, config: &SessionConfig) -> std::result::Result<SessionBuilder, TryError> {
    let model_err = |e: ort::Error| TryError::Model(format!("{e}"));
    let mut builder = Session::builder(&rt.env).map_err(model_err)?;
    builder = builder
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| model_err(e.into()))?;
    if let Some(prefix) = &config.profile {
        builder = builder.with_profiling(prefix).map_err(|e| model_err(e.into()))?;
    }
    if p == Provider::Cpu && config.half_graph {
        builder = builder.with_prepacking(false).map_err(|e| model_err(e.into()))?;
    }
    if config.kogi_graph {
        builder = builder.with_log_level(ort::logging::LogLevel::Error).map_err(|e| model_err(e.into()))?;
    }
    if let Some(t) = config.threads {
        builder = builder.with_intra_threads(t).map_err(|e| model_err(e.into()))?;
    }
    // Same-as-requested growth keeps the arena near the real peak (8B weights + KV), and a CUDA
    // graph replays fixed-shape decode steps without per-kernel launch cost.
    let cuda = || {
        ep::CUDA::default()
            .with_arena_extend_strategy(ep::ArenaExtendStrategy::SameAsRequested)
            .with_cuda_graph(config.cuda_graph)
            .build()
            .error_on_failure()
    };
    let dispatch = match p {
        Provider::Cpu => Vec::new(),
        Provider::Cuda => {
            if !ep::CUDA::is_available().unwrap_or(false) {
                return Err(TryError::Provider(provider_error(p, "this ONNX Runtime library was built without CUDA")));
            }
            vec![cuda()]
        }
        Provider::TensorRt => {
            if !ep::TensorRT::is_available().unwrap_or(false) {
                return Err(TryError::Provider(provider_error(p, "this ONNX Runtime library was built without TensorRT")));
            }
            let cache = config
                .tensorrt_cache
                .clone()
                .unwrap_or_else(|| crate::paths::data_dir().join("tensorrt-engines"));
            let _ = std::fs::create_dir_all(&cache);
            let mut trt = ep::TensorRT::default()
                .with_fp16(true)
                .with_engine_cache(true)
                .with_engine_cache_path(cache.display())
                .with_timing_cache(true)
                .with_timing_cache_path(cache.display())
                .with_max_workspace_size(TENSORRT_WORKSPACE);
            if let Some([min, opt, max]) = &config.tensorrt_profile {
                trt = trt.with_profile_min_shapes(min).with_profile_opt_shapes(opt).with_profile_max_shapes(max);
            }
            // TensorRT takes the subgraphs it can build; the rest (GroupQueryAttention and other
            // contrib ops) runs on CUDA rather than falling to the CPU.
            vec![trt.build().error_on_failure(), cuda()]
        }
        Provider::Auto => unreachable!("auto is resolved to a list"),
    };
    if !dispatch.is_empty() {
        builder = builder
            .with_execution_providers(dispatch)
            .map_err(|e| TryError::Provider(provider_error(p, explain_tensorrt(rt, p, e.to_string()))))?;
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_parse_and_print_round_trip() {
        for p in [Provider::Auto, Provider::Cpu, Provider::Cuda, Provider::TensorRt] {
            assert_eq!(p.to_string().parse::<Provider>().unwrap(), p);
        }
        assert!("gpu".parse::<Provider>().is_err());
    }

    #[test]
    fn decoder_tensorrt_profile_covers_one_token_steps_up_to_the_full_window() {
        let [min, opt, max] = decoder_tensorrt_profile(2, 8, 128, 4096, 1, 2048);
        assert!(min.starts_with("input_ids:1x1,attention_mask:1x1,past_key_values.0.key:1x8x0x128"));
        assert!(opt.contains("attention_mask:1x2049") && opt.contains("past_key_values.1.value:1x8x2048x128"));
        assert!(max.starts_with("input_ids:1x4096,attention_mask:1x4096"));
        // Every dynamic input appears in each of the three.
        for s in [&min, &opt, &max] {
            assert_eq!(s.split(',').count(), 2 + 2 * 2);
        }
    }

    #[test]
    fn missing_tensorrt_library_names_the_first_absent_one() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = vec![dir.path().to_owned()];
        assert_eq!(missing_tensorrt_library(&dirs), Some("libonnxruntime_providers_tensorrt.so"));
        std::fs::write(dir.path().join("libonnxruntime_providers_tensorrt.so"), b"").unwrap();
        assert_eq!(missing_tensorrt_library(&dirs), Some("libnvinfer.so.10"));
        for lib in ["libnvinfer.so.10", "libnvinfer_plugin.so.10", "libnvonnxparser.so.10"] {
            std::fs::write(dir.path().join(lib), b"").unwrap();
        }
        assert_eq!(missing_tensorrt_library(&dirs), None);
    }
}
