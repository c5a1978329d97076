//! ONNX Runtime: finding the library, choosing the execution provider, opening sessions.
//!
//! A provider the user asked for that cannot load is an error naming what is missing; only `auto`
//! falls back (TensorRT → CUDA → CPU), and it reports what it fell back from.

use crate::{Error, Result};
use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The library version kogi is built against (`api-31`).
pub const ORT_VERSION: &str = "1.31.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
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
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self { provider: Provider::Auto, threads: None, tensorrt_cache: None, tensorrt_profile: None }
    }
}

/// The provider a session really runs on, and what `auto` tried before it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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

/// Open a model file on the configured provider.
pub fn open_session(model: &Path, config: &SessionConfig) -> Result<(Session, ProviderReport)> {
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
        match try_open(rt, model, p, config) {
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

fn try_open(rt: &Loaded, model: &Path, p: Provider, config: &SessionConfig) -> std::result::Result<Session, TryError> {
    let model_err = |e: ort::Error| {
        TryError::Model(format!("{e} — the file may be damaged or not an ONNX model; rebuild it (see models/README.md)"))
    };
    let mut builder = Session::builder(&rt.env).map_err(model_err)?;
    builder = builder
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| model_err(e.into()))?;
    if let Some(t) = config.threads {
        builder = builder.with_intra_threads(t).map_err(|e| model_err(e.into()))?;
    }
    let dispatch = match p {
        Provider::Cpu => None,
        Provider::Cuda => {
            if !ep::CUDA::is_available().unwrap_or(false) {
                return Err(TryError::Provider(provider_error(p, "this ONNX Runtime library was built without CUDA")));
            }
            Some(ep::CUDA::default().build().error_on_failure())
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
                .with_max_workspace_size(4 << 30);
            if let Some([min, opt, max]) = &config.tensorrt_profile {
                trt = trt.with_profile_min_shapes(min).with_profile_opt_shapes(opt).with_profile_max_shapes(max);
            }
            Some(trt.build().error_on_failure())
        }
        Provider::Auto => unreachable!("auto is resolved to a list"),
    };
    if let Some(d) = dispatch {
        builder = builder
            .with_execution_providers([d])
            .map_err(|e| TryError::Provider(provider_error(p, e)))?;
    }
    if !model.is_file() {
        return Err(TryError::Model(format!("{} is missing — rebuild the model (see models/README.md)", model.display())));
    }
    builder.commit_from_file(model).map_err(|e| {
        let s = e.to_string();
        // Provider libraries are loaded lazily, at commit: a missing libcudart/libnvinfer shows up here.
        if p != Provider::Cpu && (s.contains(".so") || s.contains("CUDA") || s.contains("TensorRT")) {
            TryError::Provider(provider_error(p, s))
        } else {
            model_err(e)
        }
    })
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
}
