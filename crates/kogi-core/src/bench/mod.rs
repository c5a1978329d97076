//! Benchmarks: speed measured in one run, side by side, reported as medians and percentiles.
//!
//! Each bench takes what it times already loaded (an embedder, a database) or, where opening the
//! model is part of what is measured, the model folder and how to open it; the front end only turns
//! its arguments into the parameter structs and prints the report.
//!
//! The fields of every report are declared in alphabetical order: that is the order of the JSON
//! `kogi bench --json` has always printed (serde_json's object keys are sorted), which scripts and
//! BENCHMARKS.md compare against.

pub mod drafts;
mod embed;
pub mod generate;
mod index;
mod search;
pub mod server;

pub use embed::{EmbedBench, EmbedBenchReport, embed};
pub use generate::{
    BenchChat, Decoding, GenerateBench, GenerateBenchReport, GpuMemory, PromptResult, QuestionRun, StepCounts, Variant,
    VerifyCost, VerifyPass, generate,
};
pub use index::{IndexBench, IndexBenchReport, index};
pub use search::{SearchBench, SearchBenchReport, search};
pub use server::{ServerBench, ServerBenchReport};

// What a front end needs to fill in the parameters.
pub use crate::generate::chat::Message;
pub use crate::generate::onnx::decoder::DeviceSteps;
pub use crate::generate::speculative::NgramConfig;

/// A retrieval-augmented prompt whose answer should quote its passages: where prompt lookup pays.
/// Also the text embedded when there is no transcript.
const RAG_PASSAGES: &[&str] = &[
    "Scaling laws describe how the test loss of a language model falls as a power law when compute, data and the number of parameters grow together. Plotted on log-log axes, the loss against compute is close to a straight line.",
    "The Chinchilla paper found that for a fixed compute budget the optimal number of training tokens is about twenty times the number of parameters, so a 70 billion parameter model should be trained on about 1.4 trillion tokens.",
    "The compute needed to train a transformer is roughly six times the number of parameters times the number of training tokens. This simple formula is used to plan training runs before they start.",
    "Inference time scaling means spending more compute when answering: the model thinks longer on hard questions, samples several answers, or checks its steps with a reward model, and accuracy keeps improving as that compute grows.",
];

/// The value at fraction `p` (0..=1) of `sorted` (ascending, not empty): the nearest rank.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The median of `v` (not empty); of an even count, the upper of the middle two.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert_eq!(percentile(&v, 0.95), 5.0);
        assert_eq!(percentile(&[7.0], 0.95), 7.0);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_upper_middle() {
        assert_eq!(median(vec![3.0, 1.0]), 3.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(median(vec![2.0, 9.0, 1.0]), 2.0);
    }

    /// Reports serialise with their keys in the order serde_json's own maps keep them (sorted), so
    /// the JSON reads the same as when it was built with `json!`.
    fn assert_sorted_keys<T: serde::Serialize>(report: &T) {
        let direct = serde_json::to_string_pretty(report).unwrap();
        let via_map = serde_json::to_string_pretty(&serde_json::to_value(report).unwrap()).unwrap();
        assert_eq!(direct, via_map);
    }

    #[test]
    fn report_keys_are_in_json_map_order() {
        assert_sorted_keys(&IndexBenchReport::default());
        assert_sorted_keys(&SearchBenchReport::default());
        assert_sorted_keys(&EmbedBenchReport::default());
        assert_sorted_keys(&generate::tests::sample_report());
    }

    #[test]
    fn parameters_default_to_the_cli_defaults() {
        assert_eq!(IndexBench::default().runs, 3);
        let s = SearchBench::default();
        assert_eq!((s.lectures, s.queries, s.mode), (100, 200, crate::retrieval::Mode::Hybrid));
        let g = GenerateBench::default();
        assert_eq!((g.runs, g.new_tokens, g.prefill_chunk, g.verify_k, g.questions), (3, 256, 512, 0, 0));
        assert_eq!((g.ngram.max_n, g.ngram.min_n, g.ngram.max_k, g.ngram.model_k), (12, 1, 16, 4));
        assert_eq!(g.variants, [Variant::Plain, Variant::Fast, Variant::Spec, Variant::SpecContext]);
        assert!(g.host_steps);
        let e = EmbedBench::default();
        assert_eq!((e.runs, e.passages, e.passage_chars), (3, 2000, 400));
        // Parameters read back from JSON fill what is missing with the same defaults.
        let g: GenerateBench = serde_json::from_str(r#"{"new_tokens": 32}"#).unwrap();
        assert_eq!((g.new_tokens, g.runs), (32, 3));
    }
}
