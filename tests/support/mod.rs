//! Shared harness for the end-to-end tests: runs the real `kogi` binary against a private database,
//! the real ONNX Runtime and the real default models (built by scripts/setup.sh).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

// Where the checkout, the real data and the models are: shared with the core's own tests.
#[path = "../../crates/kogi-core/tests/support/mod.rs"]
mod places;
#[allow(unused_imports)]
pub use places::{models_dir, repo, shared_data};

pub struct Kogi {
    pub dir: tempfile::TempDir,
}

impl Kogi {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self { dir }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("kogi.sqlite3")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kogi"));
        c.env("KOGI_HOME", self.dir.path().join("home"))
            .env("KOGI_MODELS", models_dir())
            .env_remove("KOGI_DB")
            .arg("--db")
            .arg(self.db());
        c
    }

    /// Run; panics with the output unless it succeeded.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(out.status.success(), "kogi {args:?} failed:\n{}\n{}", stdout(&out), stderr(&out));
        stdout(&out)
    }

    /// Run; panics unless it failed; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(!out.status.success(), "kogi {args:?} should have failed:\n{}", stdout(&out));
        stderr(&out)
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let s = self.ok(&a);
        serde_json::from_str(&s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
