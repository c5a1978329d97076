//! The importer under mutation: seed transcripts of every format and encoding (plain text in UTF-8,
//! Shift_JIS and EUC-JP, SRT, WebVTT, JSON segment and chunk lists) are damaged — bits flipped,
//! bytes set, cut short, bytes inserted and deleted, blocks duplicated, the whole re-encoded
//! (UTF-16 LE/BE with and without a BOM, UTF-8 with a BOM, Shift_JIS, EUC-JP) — and imported.
//!
//! Property, for every input: the importer never panics and never hangs (each case has a time
//! bound), and it returns either a transcript with non-empty text whose segments lie inside it, or
//! an input error (`Error::is_bad_input`) that names the file. A transcript it returns is stored in
//! a real (in-memory) kogi database, read back unchanged, and the database passes
//! `PRAGMA integrity_check`.
//!
//! Budget: `KOGI_FUZZ_CASES` inputs (default 10,000: about ten seconds in a debug build);
//! `KOGI_FUZZ_SEED` (a number) picks another deterministic sequence. The figures are printed:
//! `cargo test -p kogi-core --test fault_fuzz -- --nocapture`.

mod support;

use encoding_rs::{EUC_JP, SHIFT_JIS};
use kogi_core::Error;
use kogi_core::store::{Db, sha256_hex};
use kogi_core::transcript::import::{ImportOptions, import_bytes};
use kogi_core::transcript::{Format, ImportedTranscript};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One case may take this long (a debug build, a busy machine) before it counts as a hang.
const CASE_LIMIT: Duration = Duration::from_secs(10);
/// Mutated inputs grow no further than this.
const MAX_LEN: usize = 256 << 10;

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

// ------------------------------------------------------------------------------------ seeds

struct Seed {
    name: &'static str,
    bytes: Vec<u8>,
    /// What the unmutated seed imports as.
    format: Format,
    encoding: &'static str,
}

const PLAIN_JA: &str = "今日は言語モデルのスケール則について話します。\r\n\
    スケール則というのは、計算資源とデータの量とパラメータ数を増やしたときに、テストの誤差がどう下がるかについての経験則です。\r\n\
    \r\n\
    後半は推論時のスケーリング、英語でいうとInference Time Scalingの話をします。\tGPT-4やo1の例も出します。\r\n\
    最後に、Chinchillaの論文では最適なトークン数はパラメータ数のおよそ20倍だとされています。\r\n";

const VTT: &str = "\u{feff}WEBVTT - lecture 4\nKind: captions\nLanguage: ja\n\n\
    NOTE this is a comment\nspanning two lines\n\n\
    STYLE\n::cue { color: yellow }\n\n\
    intro\n00:01.000 --> 00:04.000 align:start position:10%\n<v Prof. Tanaka>今日は<c.yellow>スケール則</c>の</v>\n<b>話</b>をします\n\n\
    00:00:05.000 --> 00:00:06.500\n<v Student>Is it <00:00:05.500>&lt;linear&gt;&nbsp;or not?\n\n\
    3\n1:00:00.000 --> 1:00:01.000 line:0\n<ruby>推論<rt>すいろん</rt></ruby>時 a&amp;b\n";

const JSON_SEGMENTS: &str = r#"[
    {"start": 1.5, "end": 3.0, "text": " スケール則の話です。 "},
    {"start": "00:01:02.500", "end": "00:01:04,000", "text": "推論時のスケーリング"},
    {"start": "65", "end": 66.25, "text": "Inference Time Scaling"}
]"#;

const JSON_WHISPER: &str = r#"{"text": " ignored when segments exist", "language": "ja",
    "course": "LLM 2024", "title": "Day 4", "date": "2024-10-02", "speaker": "松尾",
    "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 2.0, "text": "スケール則", "tokens": [1, 2]},
                 {"id": 1, "start": 2.0, "end": 4.0, "text": "推論時"}]}"#;

const JSON_CHUNKS: &str = r#"[{"content": "第一段落。スケール則について。"}, {"content": "Second chunk: o1 and GPT-4."}]"#;

const JSON_WHISPER_CPP: &str = r#"{"transcription": [
    {"timestamps": {"from": "00:00:00,000", "to": "00:00:02,000"}, "offsets": {"from": 0, "to": 2000}, "text": " べき乗則"},
    {"timestamps": {"from": "00:00:02,000", "to": "00:00:03,500"}, "text": " 両対数グラフ"}]}"#;

fn seeds() -> Vec<Seed> {
    let srt = std::fs::read(support::repo().join("examples/sample-lecture.srt")).expect("examples/sample-lecture.srt");
    let plain_lf = PLAIN_JA.replace("\r\n", "\n");
    let sjis = SHIFT_JIS.encode(&plain_lf).0.into_owned();
    let eucjp = EUC_JP.encode(&plain_lf).0.into_owned();
    let srt_sjis = SHIFT_JIS.encode(std::str::from_utf8(&srt).unwrap()).0.into_owned();
    vec![
        Seed { name: "sample-lecture.srt", bytes: srt, format: Format::Srt, encoding: "UTF-8" },
        Seed { name: "lecture-sjis.srt", bytes: srt_sjis, format: Format::Srt, encoding: "Shift_JIS" },
        Seed { name: "lecture.txt", bytes: PLAIN_JA.as_bytes().to_vec(), format: Format::Text, encoding: "UTF-8" },
        Seed { name: "lecture-sjis.txt", bytes: sjis, format: Format::Text, encoding: "Shift_JIS" },
        Seed { name: "lecture-euc.txt", bytes: eucjp, format: Format::Text, encoding: "EUC-JP" },
        Seed { name: "lecture.vtt", bytes: VTT.as_bytes().to_vec(), format: Format::Vtt, encoding: "UTF-8" },
        Seed { name: "segments.json", bytes: JSON_SEGMENTS.as_bytes().to_vec(), format: Format::Json, encoding: "UTF-8" },
        Seed { name: "whisper.json", bytes: JSON_WHISPER.as_bytes().to_vec(), format: Format::Json, encoding: "UTF-8" },
        Seed { name: "chunks.json", bytes: JSON_CHUNKS.as_bytes().to_vec(), format: Format::Json, encoding: "UTF-8" },
        Seed { name: "whisper-cpp.json", bytes: JSON_WHISPER_CPP.as_bytes().to_vec(), format: Format::Json, encoding: "UTF-8" },
    ]
}

// -------------------------------------------------------------------------------- mutations

#[derive(Debug, Clone, Copy, PartialEq)]
enum Enc {
    Utf16Le,
    Utf16LeBom,
    Utf16Be,
    Utf16BeBom,
    Utf8Bom,
    ShiftJis,
    EucJp,
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit { at: u32, bit: u8 },
    SetByte { at: u32, byte: u8 },
    Truncate { at: u32 },
    Insert { at: u32, bytes: Vec<u8> },
    Delete { at: u32, len: u16 },
    Duplicate { from: u32, len: u16, to: u32 },
    Reencode(Enc),
}

/// Bytes that mean something to one of the decoders or parsers.
const INTERESTING_BYTES: &[u8] = &[
    0x00, 0x01, 0x09, 0x0a, 0x0c, 0x0d, 0x1b, 0x20, 0x22, 0x2c, 0x2d, 0x2e, 0x3a, 0x3c, 0x3e, 0x5b, 0x5c, 0x5d, 0x7b,
    0x7d, 0x7f, 0x80, 0x81, 0x8e, 0x9f, 0xa0, 0xbf, 0xc0, 0xc3, 0xe3, 0xef, 0xf0, 0xf4, 0xf8, 0xfe, 0xff,
];

/// Pieces of the formats' syntax, encoding marks and troublemakers.
const TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"\r",
    b"\n\n",
    b" --> ",
    b"-->",
    b"00:00:01,000",
    b"00:01.000",
    b"99:99:99,999",
    b"1\n00:00:01,000 --> 00:00:00,500\n",
    b"WEBVTT\n\n",
    b"NOTE ",
    b"STYLE\n",
    b"<v Speaker>",
    b"<i>",
    b"</i>",
    b"&amp;",
    b"&#0;",
    b"&#x1b;",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\x00",
    b"\x00\x00\x00",
    b"\x1b[2J",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\"text\": ",
    b"\"start\": ",
    b"\"end\": -1",
    b"\"segments\": [",
    b"{\"start\": 1e308, \"end\": 1e309, \"text\": \"x\"}",
    b"null",
    b"\\u0000",
    b"\\ud800",
    b"\x82\xa0",
    b"\xa4\xa2",
    b"\xf0\x9f\x98\x80",
    b"\xed\xa0\x80",
    "　".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{202e}".as_bytes(),
];

fn enc() -> impl Strategy<Value = Enc> {
    prop::sample::select(vec![Enc::Utf16Le, Enc::Utf16LeBom, Enc::Utf16Be, Enc::Utf16BeBom, Enc::Utf8Bom, Enc::ShiftJis, Enc::EucJp])
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<u32>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        3 => (any::<u32>(), prop_oneof![prop::sample::select(INTERESTING_BYTES), any::<u8>()])
            .prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        2 => any::<u32>().prop_map(|at| Mutation::Truncate { at }),
        4 => (any::<u32>(), prop_oneof![
                3 => prop::sample::select(TOKENS).prop_map(|t| t.to_vec()),
                1 => prop::collection::vec(any::<u8>(), 1..16),
            ])
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        2 => (any::<u32>(), 1u16..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        3 => (any::<u32>(), 1u16..2048, any::<u32>()).prop_map(|(from, len, to)| Mutation::Duplicate { from, len, to }),
        2 => enc().prop_map(Mutation::Reencode),
    ]
}

fn pos(at: u32, len: usize) -> usize {
    at as usize % (len + 1)
}

fn reencode(bytes: &[u8], e: Enc) -> Vec<u8> {
    // The text as it stands (a damaged part becomes U+FFFD), written out anew.
    let text = String::from_utf8_lossy(bytes);
    let utf16 = |big: bool, bom: bool| {
        let mut out = Vec::with_capacity(text.len() * 2 + 2);
        let units = bom.then_some(0xfeff_u16).into_iter().chain(text.encode_utf16());
        for u in units {
            out.extend_from_slice(&if big { u.to_be_bytes() } else { u.to_le_bytes() });
        }
        out
    };
    match e {
        Enc::Utf16Le => utf16(false, false),
        Enc::Utf16LeBom => utf16(false, true),
        Enc::Utf16Be => utf16(true, false),
        Enc::Utf16BeBom => utf16(true, true),
        Enc::Utf8Bom => [b"\xef\xbb\xbf".as_slice(), text.as_bytes()].concat(),
        Enc::ShiftJis => SHIFT_JIS.encode(&text).0.into_owned(),
        Enc::EucJp => EUC_JP.encode(&text).0.into_owned(),
    }
}

fn mutate(mut b: Vec<u8>, m: &Mutation) -> Vec<u8> {
    match m {
        Mutation::FlipBit { at, bit } if !b.is_empty() => {
            let i = *at as usize % b.len();
            b[i] ^= 1 << bit;
        }
        Mutation::SetByte { at, byte } if !b.is_empty() => {
            let i = *at as usize % b.len();
            b[i] = *byte;
        }
        Mutation::Truncate { at } => b.truncate(pos(*at, b.len())),
        Mutation::Insert { at, bytes } if b.len() + bytes.len() <= MAX_LEN => {
            let i = pos(*at, b.len());
            b.splice(i..i, bytes.iter().copied());
        }
        Mutation::Delete { at, len } => {
            let i = pos(*at, b.len());
            let end = (i + *len as usize).min(b.len());
            b.drain(i..end);
        }
        Mutation::Duplicate { from, len, to } if !b.is_empty() => {
            let start = *from as usize % b.len();
            let end = (start + *len as usize).min(b.len());
            if b.len() + (end - start) <= MAX_LEN {
                let block = b[start..end].to_vec();
                let i = pos(*to, b.len());
                b.splice(i..i, block);
            }
        }
        Mutation::Reencode(e) => {
            let r = reencode(&b, *e);
            if r.len() <= MAX_LEN {
                b = r;
            }
        }
        _ => {}
    }
    b
}

// ----------------------------------------------------------------------------------- checks

#[derive(Debug, Clone)]
struct Case {
    seed: usize,
    /// 0: the seed's own name; else another extension (the content is sniffed or forced).
    name: usize,
    mutations: Vec<Mutation>,
    /// A tiny size limit, so that the size check meets damaged input too.
    tiny_limit: bool,
}

const OTHER_NAMES: &[&str] = &["", "transcript.txt", "transcript.srt", "transcript.vtt", "transcript.json", "transcript"];

enum Outcome {
    Ok { format: Format, encoding: String },
    Refused { kind: String },
}

/// The variant's name: `Malformed`, `Undecodable`, …
fn error_kind(e: &Error) -> String {
    format!("{e:?}").split([' ', '{', '(']).next().unwrap_or_default().to_owned()
}

/// A violation: `CLASS: details` (the class groups the figures).
fn v(class: &str, detail: impl std::fmt::Display) -> String {
    format!("{class}: {detail}")
}

/// Everything the property asks of one input, run on its own thread (for the time bound).
/// `Err` is a violation, described.
fn check(name: &str, bytes: &[u8], opts: &ImportOptions) -> Result<Outcome, String> {
    match import_bytes(name, bytes, opts) {
        Err(e) => {
            let message = e.to_string();
            if !e.is_bad_input() {
                return Err(v("error not about the input", format!("{}: {message}", error_kind(&e))));
            }
            if message.trim().is_empty() || !message.contains(name) {
                return Err(v("error does not name the file", format!("{name:?}: {message:?}")));
            }
            match &e {
                Error::BinaryFile { offset, .. } if *offset >= bytes.len() => {
                    return Err(v("offset past the end", format!("binary at byte {offset} of {}: {message}", bytes.len())));
                }
                Error::Undecodable { offset, .. } if *offset > bytes.len() => {
                    return Err(v("offset past the end", format!("undecodable at byte {offset} of {}: {message}", bytes.len())));
                }
                Error::Malformed { line: 0, .. } => return Err(v("line 0", message)),
                _ => {}
            }
            Ok(Outcome::Refused { kind: error_kind(&e) })
        }
        Ok(t) => {
            check_transcript(&t, bytes)?;
            round_trip(&t)?;
            Ok(Outcome::Ok { format: t.format, encoding: t.encoding.clone() })
        }
    }
}

fn check_transcript(t: &ImportedTranscript, bytes: &[u8]) -> Result<(), String> {
    if t.text.trim().is_empty() {
        return Err(v("empty text", "imported with empty text"));
    }
    // The plain-text decoder refuses a NUL byte as binary; no format may bring one in (SQLite's
    // length() stops at it, C strings end at it).
    if let Some(at) = t.text.chars().position(|c| c == '\0') {
        return Err(v("NUL in the imported text", format!("U+0000 at character {at} ({:?} from {:?})", t.format, t.encoding)));
    }
    if t.source_sha256 != sha256_hex(bytes) {
        return Err(v("wrong source hash", "source_sha256 is not the hash of the bytes"));
    }
    let n = t.text.chars().count();
    let mut prev_end = 0;
    for (i, s) in t.segments.iter().enumerate() {
        if s.span.start > s.span.end || s.span.end > n {
            return Err(v("segment outside the text", format!("segment {i} spans {}..{} of a {n}-character text", s.span.start, s.span.end)));
        }
        if s.span.start < prev_end {
            return Err(v("segments overlap", format!("segment {i} ({}..{}) overlaps the one before (ending at {prev_end})", s.span.start, s.span.end)));
        }
        prev_end = s.span.end;
    }
    Ok(())
}

/// Store the transcript in a real kogi database and read it back.
fn round_trip(t: &ImportedTranscript) -> Result<(), String> {
    let mut db = Db::open_in_memory().map_err(|e| v("database", format!("open_in_memory: {e}")))?;
    let imported = db.import_transcript(t).map_err(|e| v("database refused the transcript", e))?;
    if !imported.created {
        return Err(v("database", "a fresh database says the transcript was there already"));
    }
    let rev = db.revision(imported.lecture.head).map_err(|e| v("database", format!("reading revision 1 back: {e}")))?;
    if rev.text != t.text {
        return Err(v("stored text differs", "the stored text differs from the imported text"));
    }
    if rev.segments != t.segments {
        return Err(v("stored segments differ", format!("{} stored, {} imported", rev.segments.len(), t.segments.len())));
    }
    let chars = t.text.chars().count() as i64;
    if imported.lecture.chars != chars {
        return Err(v("stored lecture length wrong", format!("the lecture says {} characters, the text has {chars}", imported.lecture.chars)));
    }
    let again = db.import_transcript(t).map_err(|e| v("database", format!("importing the same transcript again: {e}")))?;
    if again.created || again.lecture.id != imported.lecture.id {
        return Err(v("duplicate lecture", "the same file imported twice made a second lecture"));
    }
    let ok = db.integrity_check().map_err(|e| v("integrity", e))?;
    if ok != "ok" {
        return Err(v("integrity", format!("PRAGMA integrity_check: {ok}")));
    }
    Ok(())
}

/// `check` on a thread of its own, given `CASE_LIMIT`; a panic is a violation too.
fn bounded(name: String, bytes: Vec<u8>, opts: ImportOptions) -> (Result<Outcome, String>, Duration) {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(|| check(&name, &bytes, &opts));
        let _ = tx.send(r);
    });
    let r = match rx.recv_timeout(CASE_LIMIT) {
        Ok(Ok(r)) => r,
        Ok(Err(panic)) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(v("PANIC", msg))
        }
        Err(_) => Err(v("HANG", format!("no result after {CASE_LIMIT:?}"))),
    };
    (r, started.elapsed())
}

#[derive(Default)]
struct Stats {
    inputs: u64,
    bytes: u64,
    ok: BTreeMap<String, u64>,
    refused: BTreeMap<String, u64>,
    /// Per class of violation: how many, and the first input that showed it.
    violations: BTreeMap<String, (u64, String)>,
    slowest: Duration,
    mutated_ok: u64,
}

// ------------------------------------------------------------------------------------ tests

#[test]
fn every_seed_imports_as_its_format_and_encoding() {
    for s in seeds() {
        let t = import_bytes(s.name, &s.bytes, &ImportOptions::default()).unwrap_or_else(|e| panic!("seed {}: {e}", s.name));
        assert_eq!((t.format, t.encoding.as_str()), (s.format, s.encoding), "seed {}", s.name);
        check_transcript(&t, &s.bytes).unwrap();
        round_trip(&t).unwrap();
        for e in [Enc::Utf16Le, Enc::Utf16LeBom, Enc::Utf16Be, Enc::Utf16BeBom, Enc::Utf8Bom] {
            if s.encoding != "UTF-8" {
                continue;
            }
            let bytes = reencode(&s.bytes, e);
            let u = import_bytes(s.name, &bytes, &ImportOptions::default())
                .unwrap_or_else(|err| panic!("seed {} as {e:?}: {err}", s.name));
            assert_eq!(u.text, t.text, "seed {} as {e:?} reads differently", s.name);
        }
    }
}

/// What the fuzzing found first, kept as fixed inputs: an escaped NUL (a JSON `\u0000`, an SRT or
/// WebVTT `&#0;` / `&#x0;`) must not bring U+0000 into the text, as a raw NUL byte cannot (it is
/// refused as binary). In the text it cuts the lecture's length (SQLite's length() stops there)
/// and hides the rest of its chunk from keyword search.
#[test]
fn an_escaped_nul_never_enters_the_text() {
    let cases = [
        ("nul.json", r#"[{"start": 0, "end": 1, "text": "スケール\u0000則の話です。"}, {"start": 1, "end": 2, "text": "二つ目"}]"#),
        ("nul.srt", "1\n00:00:01,000 --> 00:00:02,000\nスケール&#0;則の話です。\n\n2\n00:00:02,000 --> 00:00:03,000\n二つ目\n"),
        ("nul.vtt", "WEBVTT\n\n00:01.000 --> 00:02.000\nスケール&#x0;則の話です。\n"),
    ];
    let mut bad = Vec::new();
    for (name, content) in cases {
        if let Err(violation) = check(name, content.as_bytes(), &ImportOptions::default()) {
            bad.push(violation);
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn mutated_transcripts_never_panic_hang_or_corrupt_the_database() {
    let seeds = seeds();
    let cases = env_number("KOGI_FUZZ_CASES", 10_000) as u32;
    let seed = env_number("KOGI_FUZZ_SEED", 14);
    let mut seed_bytes = [0u8; 32];
    for (i, b) in seed_bytes.iter_mut().enumerate() {
        *b = (seed.rotate_left(i as u32 * 8) as u8) ^ (i as u8).wrapping_mul(0x9d);
    }
    let config = Config {
        cases,
        // A failing case is printed (shrunk); nothing is written into the checkout.
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let strategy = (0..seeds.len(), 0..OTHER_NAMES.len(), prop::collection::vec(mutation(), 0..5), prop::bool::weighted(0.03))
        .prop_map(|(seed, name, mutations, tiny_limit)| Case { seed, name, mutations, tiny_limit });
    let stats = Mutex::new(Stats::default());
    let started = Instant::now();

    let result = runner.run(&strategy, |case| {
        let s = &seeds[case.seed];
        let name = if OTHER_NAMES[case.name].is_empty() { s.name } else { OTHER_NAMES[case.name] };
        let bytes = case.mutations.iter().fold(s.bytes.clone(), mutate);
        let opts = ImportOptions { max_bytes: if case.tiny_limit { 512 } else { ImportOptions::default().max_bytes }, ..Default::default() };
        let (outcome, took) = bounded(name.to_owned(), bytes.clone(), opts);
        let mut st = stats.lock().unwrap();
        st.inputs += 1;
        st.bytes += bytes.len() as u64;
        st.slowest = st.slowest.max(took);
        match outcome {
            Ok(Outcome::Ok { format, encoding }) => {
                *st.ok.entry(format!("{format:?} {encoding}")).or_default() += 1;
                if !case.mutations.is_empty() {
                    st.mutated_ok += 1;
                }
                Ok(())
            }
            Ok(Outcome::Refused { kind }) => {
                *st.refused.entry(kind).or_default() += 1;
                Ok(())
            }
            // Recorded, not stopped at: one damaged input must not hide what the rest find.
            Err(violation) => {
                let class = violation.split(": ").next().unwrap_or_default().to_owned();
                let e = st.violations.entry(class).or_insert((0, String::new()));
                e.0 += 1;
                if e.0 == 1 {
                    let shown: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
                    e.1 = format!("{name} ({} bytes): {violation}\n      input: {shown:?}\n      made by: {case:?}", bytes.len());
                }
                Ok(())
            }
        }
    });

    let st = stats.into_inner().unwrap();
    let ok: u64 = st.ok.values().sum();
    let refused: u64 = st.refused.values().sum();
    println!("\n== importer fuzz (seed {seed}, {cases} cases asked; KOGI_FUZZ_CASES / KOGI_FUZZ_SEED change them)");
    println!("inputs fuzzed: {} ({} seeds, {:.1} MB in all) in {:.1} s; slowest input {:.0} ms", st.inputs, seeds.len(), st.bytes as f64 / 1e6, started.elapsed().as_secs_f64(), st.slowest.as_secs_f64() * 1e3);
    println!("ok: {ok} (of them mutated: {}), each stored, read back and integrity-checked", st.mutated_ok);
    for (k, n) in &st.ok {
        println!("    ok as {k}: {n}");
    }
    println!("refused with a clear error: {refused}");
    for (k, n) in &st.refused {
        println!("    {k}: {n}");
    }
    let count = |class: &str| st.violations.get(class).map_or(0, |v| v.0);
    let violations: u64 = st.violations.values().map(|v| v.0).sum();
    println!("violations: {violations} (panics {}, hangs {})", count("PANIC"), count("HANG"));
    for (class, (n, first)) in &st.violations {
        println!("  VIOLATION {class}: {n} input(s); the first:\n      {first}");
    }
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(st.violations.is_empty(), "the importer broke the property on {violations} input(s): {:?}", st.violations.keys().collect::<Vec<_>>());
    assert!(ok > 0 && refused > 0, "the fuzzing should meet both outcomes");
}
