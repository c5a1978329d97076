//! `kogi models`: the model manager — list, add (convert a GGUF file or a Hugging Face folder),
//! use, remove, correct languages, verify.

use crate::output::Out;
use anyhow::{Result, bail};
use clap::Subcommand;
use kogi_core::service::{AddModel, Kogi, ModelEntry, Target};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Installed models: kind, architecture, size, quantisation, target, language fit (the default)
    List,
    /// Convert a GGUF file (LM Studio, Ollama, Jan …) or a Hugging Face folder into the models folder
    Add {
        path: PathBuf,
        /// Folder name for it [default: from the model's own name]
        #[arg(long)]
        name: Option<String>,
        /// cpu (quantised weights kept as the file has them), cpu-fast (re-quantised to Q4_0 as llama.cpp
        /// does: fewer bytes a token, faster, a little less faithful), cuda (fp16) or cuda-int4 (4-bit
        /// weights, for GPUs that cannot hold the model in fp16) [default: from the provider setting]
        #[arg(long)]
        target: Option<Target>,
        /// Answer with it from now on
        #[arg(long = "use")]
        use_it: bool,
    },
    /// Build the Japanese dictionary (words and readings for search and suggestions) from a MeCab
    /// dictionary source, e.g. Debian's mecab-ipadic: /usr/share/mecab/dic/ipadic
    Dictionary {
        source: PathBuf,
        /// A compiled UniDic (its sys.dic, e.g. from PyPI's unidic-lite) whose lemmas give the
        /// English of katakana loanwords (トークン = token), for search and readings of Latin terms
        #[arg(long)]
        loanwords: Option<PathBuf>,
    },
    /// Compute a chat model's own drafts (its top next tokens after each token), which speed up
    /// answers that do not copy the lecture
    Drafts {
        /// The installed chat model [default: the one answering]
        name: Option<String>,
        /// Only the first N token ids (large vocabularies on a slow machine) [default: all]
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Answer with this chat model, or transcribe with this speech model, from now on
    Use { name: String },
    /// Remove an installed model (asks first; --yes to skip)
    Remove {
        name: String,
        #[arg(long)]
        yes: bool,
    },
    /// Correct which languages a model reads, e.g. `kogi models languages my-model ja,en`
    Languages { name: String, languages: String },
    /// Check every model's files against its manifest, and show the ONNX Runtime in use
    Verify,
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 30 { format!("{:.1} GB", bytes as f64 / (1u64 << 30) as f64) } else { format!("{} MB", bytes >> 20) }
}

fn print_entry(m: &ModelEntry) {
    let kind = m.kind.and_then(|k| serde_json::to_value(k).ok()).and_then(|v| v.as_str().map(|s| s.replace('_', " "))).unwrap_or_else(|| "?".into());
    let mut facts = vec![kind];
    if let Some(a) = &m.architecture {
        facts.push(a.clone());
    }
    if let Some(p) = m.parameters {
        facts.push(format!("{:.0}M parameters", p as f64 / 1e6));
    }
    facts.push(size(m.bytes));
    if let Some(t) = m.target {
        facts.push(format!("for {t}"));
    }
    let flags = [(m.in_use, "in use"), (m.default, "default")].iter().filter(|f| f.0).map(|f| f.1).collect::<Vec<_>>().join(", ");
    say!("{}{}  — {}", m.name, if flags.is_empty() { String::new() } else { format!(" ({flags})") }, facts.join(", "));
    if let Some(q) = &m.quantization {
        say!("    weights: {q}");
    }
    if let Some(f) = &m.fit {
        let per = f.tokens_per_ja_char.map(|t| format!("{t:.2} tokens per Japanese character; ")).unwrap_or_default();
        say!("    Japanese: {} ({per}manifest languages: {})", if f.reads_japanese { "reads it" } else { "cannot read it" }, f.languages.join(", "));
    }
    if let Some(p) = &m.problem {
        say!("    problem: {p}");
    }
}

pub fn run(kogi: &Kogi, cmd: Option<ModelsCommand>, out: &Out) -> Result<()> {
    match cmd.unwrap_or(ModelsCommand::List) {
        ModelsCommand::List => {
            let models = kogi.models();
            if out.json(&models) {
                return Ok(());
            }
            say!("models in {}:", kogi.settings().models_dir().display());
            if models.is_empty() {
                say!("  none — run scripts/setup.sh to build the defaults, or `kogi models add FILE.gguf`");
            }
            for m in &models {
                print_entry(m);
            }
        }
        ModelsCommand::Add { path, name, target, use_it } => {
            let req = AddModel { source: std::path::absolute(&path)?, name, target };
            let c = out.work("adding the model", |job| kogi.add_model(&req, job))?;
            if use_it {
                kogi.use_chat_model(&c.name)?;
            }
            if !out.json(&c) {
                say!(
                    "added {} ({}, {:.0}M parameters, from {}) for {} in {:.1} s — {}",
                    c.name,
                    c.architecture.name(),
                    c.parameters as f64 / 1e6,
                    c.source,
                    c.target,
                    c.seconds,
                    size(c.bytes)
                );
                if let Some(t) = c.tokens_per_ja_char {
                    say!("Japanese: {t:.2} tokens per character — {}", if c.languages.iter().any(|l| l == "ja") { "it should read Japanese" } else { "it will not read Japanese well" });
                }
                if use_it {
                    say!("answers now come from {}", c.name);
                } else {
                    say!("answer with it: kogi models use {}", c.name);
                }
            }
        }
        ModelsCommand::Dictionary { source, loanwords } => {
            let source = std::path::absolute(&source)?;
            let loanwords = loanwords.map(std::path::absolute).transpose()?;
            let d = out.work("building the Japanese dictionary", |job| kogi.add_dictionary(&source, loanwords.as_deref(), job))?;
            if !out.json(&d) {
                say!("built {} ({} entries, {} loanwords, {}) in {:.1} s — keyword search now finds Japanese words by form and reading", d.name, d.entries, d.loanwords, size(d.bytes), d.seconds);
            }
        }
        ModelsCommand::Drafts { name, limit } => {
            let name = name.unwrap_or_else(|| kogi.settings().chat_model);
            let d = out.work("computing the model's own drafts", |job| {
                kogi.build_drafts(&name, limit, job)
            })?;
            if !out.json(&d) {
                say!(
                    "{}: drafts for {} of {} tokens in {:.1} s — speculative answers now draft from the model too",
                    d.name,
                    d.tokens,
                    d.vocab,
                    d.seconds
                );
            }
        }
        ModelsCommand::Use { name } => {
            kogi.use_chat_model(&name)?;
            if kogi.settings().transcriber == name {
                out.line(&format!("recordings are now transcribed by {name}"));
            } else {
                out.line(&format!("answers now come from {name}"));
            }
        }
        ModelsCommand::Remove { name, yes } => {
            let Some(m) = kogi.models().into_iter().find(|m| m.name == name) else {
                bail!("no model named {name:?} is installed — `kogi models` lists them");
            };
            if !yes {
                if !std::io::stdin().is_terminal() {
                    bail!("removing {name} frees {}; add --yes to confirm", size(m.bytes));
                }
                say_inline!("remove {name} ({})? [y/N] ", size(m.bytes));
                std::io::stdout().flush()?;
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    say!("kept");
                    return Ok(());
                }
            }
            kogi.remove_model(&name)?;
            out.line(&format!("removed {name}"));
        }
        ModelsCommand::Languages { name, languages } => {
            let langs: Vec<String> = languages.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
            kogi.set_model_languages(&name, &langs)?;
            out.line(&format!("{name} reads: {}", langs.join(", ")));
        }
        ModelsCommand::Verify => crate::output::models(kogi, out)?,
    }
    Ok(())
}
