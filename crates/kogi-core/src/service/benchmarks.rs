//! Benchmarks as use cases: the models the settings name, opened afresh (loading is not what an
//! index or search bench times), and the reports of [`crate::bench`].

use super::Kogi;
use crate::bench::{self, ServerBench, ServerBenchReport, EmbedBench, EmbedBenchReport, GenerateBench, GenerateBenchReport, IndexBench, IndexBenchReport, SearchBench, SearchBenchReport};
use crate::generate::onnx::decoder::DeviceSteps;
use crate::inference::embed::OnnxEmbedder;
use crate::inference::manifest::ModelDir;
use crate::inference::runtime::SessionConfig;
use crate::store::Db;
use crate::Result;
use std::path::Path;

impl Kogi {
    fn bench_embedder(&self, dir: Option<&Path>) -> Result<OnnxEmbedder> {
        let s = self.settings();
        let dir = dir.map(Path::to_owned).unwrap_or_else(|| s.embedder_dir());
        OnnxEmbedder::open(ModelDir::open(&dir)?, &s.session())
    }

    /// Time to index one transcript from scratch (no cached embeddings).
    pub fn bench_index(&self, file: &str, bytes: &[u8], params: &IndexBench) -> Result<IndexBenchReport> {
        let s = self.settings();
        bench::index(&self.bench_embedder(None)?, &s.chunking, s.threads, file, bytes, params, Some(self.words()))
    }

    /// Query latency over a corpus of copies of one transcript, built in `corpus` (kept when it
    /// is a file that exists).
    pub fn bench_search(&self, corpus: &Path, file: &str, bytes: &[u8], params: &SearchBench) -> Result<SearchBenchReport> {
        let s = self.settings();
        let mut db = Db::open(corpus)?;
        bench::search(&self.bench_embedder(None)?, &s.chunking, s.threads, &mut db, file, bytes, params, Some(self.words()))
    }

    /// Time to first token and decode speed of the chat model (or the one in `model`), with the
    /// decode steps and CUDA graphs chosen.
    pub fn bench_generate(&self, model: Option<&Path>, steps: DeviceSteps, cuda_graph: bool, params: &GenerateBench) -> Result<GenerateBenchReport> {
        let s = self.settings();
        let dir = model.map(Path::to_owned).unwrap_or_else(|| s.chat_dir());
        let session = SessionConfig { cuda_graph, ..s.session() };
        bench::generate(&dir, &session, steps, params)
    }

    /// What kogi adds to the settings' server: the same chat straight to it and through kogi,
    /// then questions at once through the service layer against one at a time.
    pub fn bench_server(&self, params: &ServerBench) -> Result<ServerBenchReport> {
        bench::server::server(self.server_client()?, &self.settings(), params)
    }

    /// Passages per second of the embedder (or the one in `model`).
    pub fn bench_embed(&self, model: Option<&Path>, transcript: Option<&[u8]>, params: &EmbedBench) -> Result<EmbedBenchReport> {
        bench::embed(&self.bench_embedder(model)?, self.settings().threads, transcript, params)
    }
}
