//! Recordings: a lecture's sound, read for transcription and kept for listening.

pub mod audio;
pub mod speech;
pub mod transcribe;
