use super::*;
use crate::text::slice_chars;
use proptest::prelude::*;
use std::path::PathBuf;

fn import(name: &str, content: &str) -> ImportedTranscript {
    import_bytes(name, content.as_bytes(), &ImportOptions::default()).unwrap()
}

fn seg_texts(t: &ImportedTranscript) -> Vec<&str> {
    t.segments
        .iter()
        .map(|s| slice_chars(&t.text, s.span))
        .collect()
}

fn times(t: &ImportedTranscript) -> Vec<(Option<u64>, Option<u64>)> {
    t.segments.iter().map(|s| (s.start_ms, s.end_ms)).collect()
}

#[test]
fn srt_two_cues_give_text_segments_with_spans_and_ms() {
    let srt = "1\r\n00:00:01,000 --> 00:00:04,500\r\nスケール則について\r\n\r\n2\r\n00:01:02,250 --> 01:00:00,000\r\nHello <i>world</i> &amp; more\r\n";
    let t = import("lecture.srt", srt);
    assert_eq!(t.format, Format::Srt);
    assert_eq!(t.text, "スケール則について\nHello world & more");
    assert_eq!(t.segments[0].span, CharSpan::new(0, 9));
    assert_eq!(t.segments[1].span, CharSpan::new(10, 28));
    assert_eq!(seg_texts(&t), ["スケール則について", "Hello world & more"]);
    assert_eq!(
        times(&t),
        [(Some(1000), Some(4500)), (Some(62_250), Some(3_600_000))]
    );
    assert_eq!(t.meta.title.as_deref(), Some("lecture"));
    assert_eq!(t.file_name, "lecture.srt");
    assert_eq!(t.encoding, "UTF-8");
}

#[test]
fn srt_multiline_cues_join_english_with_space_and_cjk_with_nothing() {
    let srt = "1\n00:00:01,000 --> 00:00:02,000\nthe scaling\nlaw\n\n2\n00:00:02,000 --> 00:00:03,000\n大規模言語\nモデルの話\nGPT-4の\n性能\n";
    let t = import("a.srt", srt);
    assert_eq!(
        seg_texts(&t),
        ["the scaling law", "大規模言語モデルの話 GPT-4の性能"]
    );
}

#[test]
fn srt_without_blank_line_between_cues_still_splits_them() {
    let srt = "1\n00:00:01,000 --> 00:00:02,000\none\n2\n00:00:02,000 --> 00:00:03,000\ntwo\n";
    assert_eq!(seg_texts(&import("a.srt", srt)), ["one", "two"]);
}

#[test]
fn vtt_strips_header_note_style_ids_settings_tags_and_accepts_hourless_times() {
    let vtt = "\u{feff}WEBVTT - lecture 4\nKind: captions\nLanguage: ja\n\n\
               NOTE this is a comment\nspanning two lines\n\n\
               STYLE\n::cue { color: yellow }\n\n\
               REGION\nid:fred width:40%\n\n\
               intro\n00:01.000 --> 00:04.000 align:start position:10%\n<v Prof. Tanaka>今日は<c.yellow>スケール則</c>の</v>\n<b>話</b>をします\n\n\
               00:00:05.000 --> 00:00:06.500\n<v Student>Is it <00:00:05.500>&lt;linear&gt;&nbsp;or not?\n\n\
               3\n1:00:00.000 --> 1:00:01.000 line:0\n<ruby>x</ruby> a&amp;b\n";
    let t = import("lecture.vtt", vtt);
    assert_eq!(t.format, Format::Vtt);
    assert_eq!(
        seg_texts(&t),
        [
            "今日はスケール則の話をします",
            "Is it <linear>\u{a0}or not?",
            "x a&b"
        ]
    );
    assert_eq!(
        t.text,
        "今日はスケール則の話をします\nIs it <linear>\u{a0}or not?\nx a&b"
    );
    assert_eq!(
        times(&t),
        [
            (Some(1000), Some(4000)),
            (Some(5000), Some(6500)),
            (Some(3_600_000), Some(3_601_000))
        ]
    );
}

#[test]
fn vtt_sniffed_from_content_without_extension() {
    let t = import("captions", "WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n");
    assert_eq!(t.format, Format::Vtt);
    assert_eq!(t.text, "hi");
}

#[test]
fn malformed_srt_timing_names_the_file_and_line() {
    let srt =
        "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 -> 00:00:04,000\nbad arrow\n";
    let err = import_bytes("talk.srt", srt.as_bytes(), &ImportOptions::default()).unwrap_err();
    match &err {
        Error::Malformed {
            path,
            line,
            message,
        } => {
            assert_eq!(path, &PathBuf::from("talk.srt"));
            assert_eq!(*line, 6);
            assert!(message.contains("timing line"), "{message}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    assert!(err.to_string().starts_with("talk.srt: line 6:"), "{err}");

    let srt =
        "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 --> 00:00:61,000\nbad seconds\n";
    let err = import_bytes("talk.srt", srt.as_bytes(), &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Malformed { line: 6, message, .. } if message.contains("00:00:61,000")),
        "{err}"
    );
}

#[test]
fn srt_cue_ending_before_it_starts_is_malformed() {
    let srt = "1\n00:00:05,000 --> 00:00:04,000\nbackwards\n";
    let err = import_bytes("x.srt", srt.as_bytes(), &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Malformed { line: 2, message, .. } if message.contains("before it starts")),
        "{err}"
    );
}

#[test]
fn json_segments_with_number_and_string_times() {
    let json = r#"[
        {"start": 1.5, "end": 3.0, "text": " Hello there. "},
        {"start": "00:01:02.500", "end": "00:01:04,000", "text": "二つ目"},
        {"start": "65", "end": 66.25, "text": "three"}
    ]"#;
    let t = import("w.json", json);
    assert_eq!(t.format, Format::Json);
    assert_eq!(t.text, "Hello there.\n二つ目\nthree");
    assert_eq!(seg_texts(&t), ["Hello there.", "二つ目", "three"]);
    assert_eq!(
        times(&t),
        [
            (Some(1500), Some(3000)),
            (Some(62_500), Some(64_000)),
            (Some(65_000), Some(66_250))
        ]
    );
}

#[test]
fn json_segments_object_with_metadata_whisper_style() {
    let json = r#"{"text": " ignored when segments exist", "language": "ja",
        "course": "LLM 2024", "title": "Day 4", "date": "2024-10-02", "speaker": "松尾",
        "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 2.0, "text": "スケール則", "tokens": [1, 2]},
                     {"id": 1, "start": 2.0, "end": 4.0, "text": "推論時"}]}"#;
    let t = import("out.json", json);
    assert_eq!(t.text, "スケール則\n推論時");
    assert_eq!(t.segments[1].span, CharSpan::new(6, 9));
    assert_eq!(
        t.meta,
        LectureMeta {
            course: Some("LLM 2024".into()),
            title: Some("Day 4".into()),
            date: Some("2024-10-02".into()),
            speaker: Some("松尾".into()),
        }
    );
}

#[test]
fn json_whisper_cpp_transcription_uses_offsets() {
    let json = r#"{"transcription": [{"timestamps": {"from": "00:00:00,000", "to": "00:00:02,000"}, "offsets": {"from": 0, "to": 2000}, "text": " a"},
                                      {"timestamps": {"from": "00:00:02,000", "to": "00:00:03,500"}, "text": " b"}]}"#;
    let t = import("out.json", json);
    assert_eq!(t.text, "a\nb");
    assert_eq!(times(&t), [(Some(0), Some(2000)), (Some(2000), Some(3500))]);
}

#[test]
fn json_chunk_list_joined_by_blank_line_without_segments() {
    let t = import(
        "chunks.json",
        r#"[{"content": "第一段落。"}, {"content": "Second chunk."}]"#,
    );
    assert_eq!(t.text, "第一段落。\n\nSecond chunk.");
    assert!(t.segments.is_empty());
}

#[test]
fn json_bad_segment_is_malformed_with_its_line() {
    let json = "[\n{\"start\": 1, \"end\": 2, \"text\": \"a\"},\n{\"start\": true, \"end\": 2, \"text\": \"b\"}\n]";
    let err = import_bytes("x.json", json.as_bytes(), &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Malformed { line: 3, message, .. } if message.contains("`start`")),
        "{err}"
    );
    let err = import_bytes(
        "x.json",
        b"[{\"text\": \"a\"},\n{oops}]",
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(&err, Error::Malformed { line: 2, .. }), "{err}");
    let err = import_bytes(
        "x.json",
        br#"[{"start": 3, "end": 2, "text": "a"}]"#,
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Malformed { message, .. } if message.contains("before it starts")),
        "{err}"
    );
}

#[test]
fn text_starting_with_bracket_is_plain_text_unless_valid_json() {
    let t = import("raw.txt", "[音楽] 今日は {楽しい} 話\n");
    assert_eq!(t.format, Format::Text);
    assert_eq!(t.text, "[音楽] 今日は {楽しい} 話\n");
    let t = import("export", r#"[{"content": "x"}]"#);
    assert_eq!(t.format, Format::Json);
}

#[test]
fn srt_content_in_txt_file_is_sniffed_and_format_can_be_forced() {
    let srt = "1\n00:00:01,000 --> 00:00:02,000\nhi\n";
    assert_eq!(import("whisper.txt", srt).format, Format::Srt);
    let opts = ImportOptions {
        format: Some(Format::Text),
        ..Default::default()
    };
    let t = import_bytes("whisper.txt", srt.as_bytes(), &opts).unwrap();
    assert_eq!((t.format, t.text.as_str()), (Format::Text, srt));
}

#[test]
fn shift_jis_japanese_is_detected_and_decoded() {
    let sentence = "今日はスケール則と推論時のスケーリングについて説明します。\n大規模言語モデルの性能は計算量に従って向上します。\n";
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(sentence);
    assert!(!unmappable);
    let t = import_bytes("sjis.txt", &bytes, &ImportOptions::default()).unwrap();
    assert_eq!(t.encoding, "Shift_JIS");
    assert_eq!(t.text, sentence);

    let short = "こんにちは、世界";
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(short);
    assert_eq!(
        decode(Path::new("s.txt"), &bytes).unwrap(),
        (short.to_owned(), "Shift_JIS")
    );
}

#[test]
fn utf16le_with_bom_and_without_is_decoded() {
    let text = "講義 lecture\r\nスケール則\r\n";
    let units: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let with_bom: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(units.iter().copied())
        .collect();
    let expected = "講義 lecture\nスケール則\n".to_owned();
    assert_eq!(
        decode(Path::new("a.txt"), &with_bom).unwrap(),
        (expected.clone(), "UTF-16LE")
    );
    assert_eq!(
        decode(Path::new("a.txt"), &units).unwrap(),
        (expected.clone(), "UTF-16LE")
    );
    let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    assert_eq!(
        decode(Path::new("a.txt"), &be).unwrap(),
        (expected, "UTF-16BE")
    );
}

#[test]
fn utf8_bom_is_stripped_and_line_ends_normalised() {
    let t = import_bytes(
        "a.txt",
        "\u{feff}一行目\r\n二行目\rthree\n".as_bytes(),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(t.text, "一行目\n二行目\nthree\n");
    assert_eq!(t.encoding, "UTF-8");
}

#[test]
fn plain_text_is_kept_verbatim_including_trailing_whitespace() {
    let text = "  indented\n\n---\nnot front matter\n\t\n\n";
    assert_eq!(import("a.txt", text).text, text);
}

#[test]
fn invalid_utf8_is_undecodable_at_the_first_bad_byte() {
    let mut bytes = "スケール則について説明します".as_bytes().to_vec();
    let bad_at = bytes.len();
    bytes.push(0xFF);
    bytes.extend_from_slice("推論時".as_bytes());
    let err = import_bytes("a.txt", &bytes, &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Undecodable { encoding, offset, .. } if encoding == "UTF-8" && *offset == bad_at),
        "{err:?}"
    );
    // A truncated sequence at the end, too.
    let mut bytes = "日本語".as_bytes().to_vec();
    bytes.extend_from_slice(&"語".as_bytes()[..2]);
    let err = decode(Path::new("a.txt"), &bytes).unwrap_err();
    assert!(
        matches!(err, Error::Undecodable { offset: 9, .. }),
        "{err:?}"
    );
}

#[test]
fn broken_utf16_is_undecodable_at_the_bad_unit() {
    // BOM, "a", then an unpaired low surrogate.
    let bytes = [0xFF, 0xFE, b'a', 0, 0x00, 0xDC, b'b', 0];
    let err = decode(Path::new("a.txt"), &bytes).unwrap_err();
    assert!(
        matches!(&err, Error::Undecodable { encoding, offset: 4, .. } if encoding == "UTF-16LE"),
        "{err:?}"
    );
}

#[test]
fn empty_and_whitespace_only_files_are_empty() {
    for bytes in [
        &b""[..],
        b"  \n\r\n\t",
        "\u{feff}\u{3000}\n".as_bytes(),
        b"\xEF\xBB\xBF",
    ] {
        let err = import_bytes("e.txt", bytes, &ImportOptions::default()).unwrap_err();
        assert!(matches!(err, Error::EmptyFile { .. }), "{bytes:?}: {err:?}");
    }
    let err = import_bytes("e.txt", b"---\ntitle: x\n---\n\n", &ImportOptions::default()).unwrap_err();
    assert!(matches!(err, Error::EmptyFile { .. }), "{err:?}");
}

#[test]
fn nul_separated_ascii_is_refused_as_binary_not_read_as_utf16() {
    for bytes in [&b"abc\0def\0ghi\0jkl\0mno\0"[..], b"lecture\0notes\0on\0scaling\0laws\0"] {
        let err = import_bytes("n.txt", bytes, &ImportOptions::default()).unwrap_err();
        assert!(matches!(err, Error::BinaryFile { .. }), "{err:?}");
    }
}

#[test]
fn a_well_formed_file_without_text_says_what_it_lacks_not_that_it_is_empty() {
    for (name, content, says) in [
        ("e.vtt", "WEBVTT\n\n", "WebVTT file has no cues"),
        ("e.srt", "WEBVTT\n\n", "WebVTT file has no cues"),
        ("e.json", "[]", "JSON holds no segments"),
        ("e.json", r#"{"segments": []}"#, "JSON holds no segments"),
    ] {
        let err = import_bytes(name, content.as_bytes(), &ImportOptions::default()).unwrap_err();
        assert!(matches!(err, Error::NoText { .. }) && err.to_string().contains(says), "{name}: {err}");
    }
}

#[test]
fn binary_files_are_refused_with_the_offending_offset() {
    let png = [
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, b'I', b'H', b'D', b'R', 0,
        0, 1, 0,
    ];
    let err = import_bytes("slide.png", &png, &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::BinaryFile { offset: 6, .. }),
        "{err:?}"
    );
    let err = import_bytes("x.txt", b"text\0more", &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::BinaryFile { offset: 4, .. }),
        "{err:?}"
    );
    let err =
        import_bytes("x.txt", b"ab\x01\x02\x03\x04cd", &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::BinaryFile { offset: 2, .. }),
        "{err:?}"
    );
    // One stray control character in a long text is tolerated.
    let text = format!("{}\x1a", "a".repeat(200));
    assert!(import_bytes("x.txt", text.as_bytes(), &ImportOptions::default()).is_ok());
}

#[test]
fn too_large_files_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.txt");
    std::fs::write(&path, "x".repeat(101)).unwrap();
    let opts = ImportOptions {
        max_bytes: 100,
        ..Default::default()
    };
    let err = import_file(&path, &opts).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                size: 101,
                limit: 100,
                ..
            }
        ),
        "{err:?}"
    );
    let err = import_bytes("big.txt", &[b'x'; 101], &opts).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                size: 101,
                limit: 100,
                ..
            }
        ),
        "{err:?}"
    );
    std::fs::write(&path, "x".repeat(100)).unwrap();
    assert_eq!(import_file(&path, &opts).unwrap().text.len(), 100);
}

#[test]
fn missing_file_is_not_found_and_directory_is_io() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.srt");
    let err = import_file(&missing, &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { path } if path == &missing),
        "{err:?}"
    );
    let err = import_file(dir.path(), &ImportOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}

#[test]
fn import_file_reads_name_hash_and_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("day4.vtt");
    let content = "WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n";
    std::fs::write(&path, content).unwrap();
    let t = import_file(&path, &ImportOptions::default()).unwrap();
    assert_eq!(t.file_name, "day4.vtt");
    assert_eq!(t.meta.title.as_deref(), Some("day4"));
    assert_eq!(t.text, "hello");
    use sha2::Digest;
    assert_eq!(
        t.source_sha256,
        hex::encode(sha2::Sha256::digest(content.as_bytes()))
    );
    assert_eq!(t.source_sha256.len(), 64);
}

#[test]
fn front_matter_gives_metadata_and_is_removed() {
    let text = "---\ncourse: LLM 2024\ntitle: \"Day 4: scaling laws\"\ndate: 2024-10-02\nspeaker: 松尾\nroom: 101\n---\n早速内容ですけど\n";
    let t = import("day4.txt", text);
    assert_eq!(t.text, "早速内容ですけど\n");
    assert_eq!(t.meta.course.as_deref(), Some("LLM 2024"));
    assert_eq!(t.meta.title.as_deref(), Some("Day 4: scaling laws"));
    assert_eq!(t.meta.date.as_deref(), Some("2024-10-02"));
    assert_eq!(t.meta.speaker.as_deref(), Some("松尾"));
}

#[test]
fn user_meta_overrides_file_meta_and_title_defaults_to_stem() {
    let text = "---\ncourse: From file\ntitle: File title\n---\nbody";
    let opts = ImportOptions {
        meta: LectureMeta {
            title: Some("User title".into()),
            speaker: Some("User".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let t = import_bytes("x.txt", text.as_bytes(), &opts).unwrap();
    assert_eq!(t.meta.title.as_deref(), Some("User title"));
    assert_eq!(t.meta.course.as_deref(), Some("From file"));
    assert_eq!(t.meta.speaker.as_deref(), Some("User"));
    let t = import("dir/講義4.txt", "body");
    assert_eq!(t.meta.title.as_deref(), Some("講義4"));
    assert_eq!(t.file_name, "講義4.txt");
}

#[test]
fn real_raw_lecture_imports_as_plain_text_with_the_same_chars() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/LLM2024_day4_raw.txt"
    ));
    if !path.exists() {
        eprintln!("skipping: {} not present", path.display());
        return;
    }
    let original = std::fs::read_to_string(&path).unwrap();
    let t = import_file(&path, &ImportOptions::default()).unwrap();
    assert_eq!(t.format, Format::Text);
    assert_eq!(t.encoding, "UTF-8");
    assert_eq!(t.text.chars().count(), original.chars().count());
    assert_eq!(t.text, original);
    assert_eq!(t.meta.title.as_deref(), Some("LLM2024_day4_raw"));
}

#[test]
fn real_chunk_list_json_imports_as_blank_line_separated_paragraphs() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/llm04_eng.json"
    ));
    if !path.exists() {
        eprintln!("skipping: {} not present", path.display());
        return;
    }
    let chunks: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let t = import_file(&path, &ImportOptions::default()).unwrap();
    assert_eq!(t.format, Format::Json);
    assert!(t.segments.is_empty());
    assert_eq!(t.text.split("\n\n").count(), chunks.len());
    assert_eq!(
        t.text.split("\n\n").next(),
        chunks[0]["content"].as_str().map(str::trim)
    );
}

fn srt_time(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02},{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

fn cue_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9あ-んア-ン漢字講義、。！？.,!?' -]{1,30}"
        .prop_map(|s| s.trim().to_owned())
        .prop_filter("non-empty", |s| !s.is_empty())
}

proptest! {
    #[test]
    fn srt_render_then_import_round_trips(
        cues in prop::collection::vec((cue_text(), 0u64..360_000_000, 0u64..600_000), 1..20),
    ) {
        let mut srt = String::new();
        for (i, (text, start, len)) in cues.iter().enumerate() {
            srt += &format!("{}\n{} --> {}\n{}\n\n", i + 1, srt_time(*start), srt_time(start + len), text);
        }
        let t = import_bytes("p.srt", srt.as_bytes(), &ImportOptions::default()).unwrap();
        let texts: Vec<&str> = cues.iter().map(|c| c.0.as_str()).collect();
        prop_assert_eq!(seg_texts(&t), texts.clone());
        prop_assert_eq!(t.text, texts.join("\n"));
        let expected: Vec<_> = cues.iter().map(|(_, s, l)| (Some(*s), Some(s + l))).collect();
        prop_assert_eq!(t.segments.iter().map(|s| (s.start_ms, s.end_ms)).collect::<Vec<_>>(), expected);
    }
}

#[test]
fn a_headerless_webvtt_file_with_text_before_a_timing_line_is_refused_not_dropped() {
    let e = import_bytes("nohdr.vtt", b"hello there no header\n00:00.000 --> 00:01.000\nsecond line\n", &ImportOptions::default()).unwrap_err().to_string();
    assert!(e.contains("hello there no header") && e.contains("WEBVTT"), "{e}");
    // With the header it is a cue's name; numbered cues without it read as before.
    let t = import_bytes("hdr.vtt", b"WEBVTT\n\nintro\n00:00.000 --> 00:01.000\nsecond line\n", &ImportOptions::default()).unwrap();
    assert_eq!(t.text.trim(), "second line");
    let t = import_bytes("num.vtt", b"1\n00:00.000 --> 00:01.000\nfirst\n\n2\n00:01.000 --> 00:02.000\nsecond\n", &ImportOptions::default()).unwrap();
    assert!(t.text.contains("first") && t.text.contains("second"), "{}", t.text);
}
