//! Recordings play in the window from a loopback HTTP server of the app's own. WebKitGTK's media
//! player (GStreamer) opens only http(s), blob and file URLs: a custom scheme such as Tauri's asset
//! protocol fails there with MEDIA_ERR_SRC_NOT_SUPPORTED, and a blob would hold a whole recording
//! in memory. The server answers only GET/HEAD for files directly inside kogi's media folder,
//! only on 127.0.0.1, only with the exact Host (no DNS rebinding) and only under a random token
//! the window gets over IPC; byte ranges let the player seek. HTTP/1.1 is hyper's (with a cap on a
//! request's head and a deadline for it), `Range:` is read by http-range-header, and a file is
//! streamed from the range's start, never read whole.

use futures_util::TryStreamExt;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, StreamBody};
use http_range_header::{RangeInvalid, RangeUnsatisfiableError};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::io::AsyncReadExt;

/// A request's line and headers may not exceed this…
const MAX_HEAD: usize = 16 * 1024;
/// …nor take longer than this to arrive.
const HEAD_DEADLINE: Duration = Duration::from_secs(10);

pub struct MediaServer {
    /// `http://127.0.0.1:<port>`: the only origin the CSP lets media come from.
    pub origin: String,
    token: String,
}

/// What every connection checks a request against.
struct Site {
    /// `127.0.0.1:<port>`, the only Host accepted.
    host: String,
    token: String,
    dir: PathBuf,
}

impl MediaServer {
    pub fn start(dir: PathBuf) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(io::Error::other)?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let site = Arc::new(Site { host: origin.trim_start_matches("http://").to_owned(), token: token.clone(), dir });
        // A runtime of its own on one thread: playing never waits on the app's other work.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
        std::thread::Builder::new().name("media-server".into()).spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => return tracing::warn!(%e, "the media server could not listen"),
                };
                loop {
                    let conn = match listener.accept().await {
                        Ok((conn, _)) => conn,
                        Err(e) => {
                            // Out of file descriptors, say: wait rather than spin.
                            tracing::debug!(%e, "media connection not accepted");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let site = site.clone();
                    tokio::spawn(async move {
                        let answer = service_fn(|req| std::future::ready(Ok::<_, Infallible>(site.answer(&req))));
                        let served = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEAD_DEADLINE)
                            .max_header_size(MAX_HEAD)
                            .serve_connection(TokioIo::new(conn), answer)
                            .await;
                        // The player closes the connection when it seeks elsewhere: the copy then simply fails.
                        if let Err(e) = served {
                            tracing::debug!(%e, "media connection ended");
                        }
                    });
                }
            })
        })?;
        Ok(Self { origin, token })
    }

    /// What the window puts before a recording's file name.
    pub fn base_url(&self) -> String {
        format!("{}/{}/", self.origin, self.token)
    }
}

/// A file the core keeps in the media folder: one plain name, no hidden or temporary files.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "mp3" => "audio/mpeg",
        "m4a" | "aac" => "audio/mp4",
        "mp4" | "m4v" | "mov" => "video/mp4",
        "wav" | "wave" => "audio/wav",
        "flac" => "audio/flac",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "webm" => "video/webm",
        "mkv" | "mka" => "video/x-matroska",
        "aif" | "aiff" => "audio/aiff",
        _ => "application/octet-stream",
    }
}

/// What a `Range:` header asks of a file of `len` bytes.
#[derive(Debug, PartialEq)]
enum Wanted {
    /// No header, another unit than bytes, or several ranges (a player asks for one).
    Whole,
    /// The first and the last byte.
    Part(u64, u64),
    /// Bytes that cannot be parsed or lie past the end: 416.
    Unsatisfiable,
}

fn wanted(range: Option<&str>, len: u64) -> Wanted {
    let Some(range) = range else { return Wanted::Whole };
    match http_range_header::parse_range_header(range) {
        Err(RangeUnsatisfiableError::Invalid(RangeInvalid::DoesNotStartWithToken)) => Wanted::Whole,
        Err(_) => Wanted::Unsatisfiable,
        Ok(ranges) if ranges.len() > 1 => Wanted::Whole,
        Ok(ranges) => match ranges.validate(len).as_deref() {
            Ok([r]) => Wanted::Part(*r.start(), *r.end()),
            // Only a suffix of an empty file: all of it, nothing.
            Ok(_) => Wanted::Whole,
            Err(_) => Wanted::Unsatisfiable,
        },
    }
}

type Body = BoxBody<Bytes, io::Error>;

fn nothing() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A response with no body (its Content-Length says how long the body is or would be).
fn head(status: StatusCode, len: u64) -> Response<Body> {
    let mut r = Response::new(nothing());
    *r.status_mut() = status;
    r.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

impl Site {
    fn answer(&self, req: &Request<Incoming>) -> Response<Body> {
        let mut hosts = req.headers().get_all(header::HOST).iter();
        if !(hosts.next().is_some_and(|h| h.as_bytes() == self.host.as_bytes()) && hosts.next().is_none()) {
            return head(StatusCode::FORBIDDEN, 0);
        }
        let only_head = match *req.method() {
            Method::GET => false,
            Method::HEAD => true,
            _ => {
                let mut r = head(StatusCode::METHOD_NOT_ALLOWED, 0);
                r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                return r;
            }
        };
        // The target as sent (hyper neither decodes nor normalizes it); a query names no file.
        let target = req.uri().path_and_query().map_or("", |p| p.as_str());
        let name = match target.strip_prefix('/').and_then(|p| p.split_once('/')) {
            Some((t, name)) if bool::from(t.as_bytes().ct_eq(self.token.as_bytes())) && valid_name(name) => name,
            _ => return head(StatusCode::NOT_FOUND, 0),
        };
        let path = self.dir.join(name);
        // A regular file itself, never a link out of the folder.
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()) {
            return head(StatusCode::NOT_FOUND, 0);
        }
        let opened = File::open(&path).and_then(|f| f.metadata().map(|m| (f, m.len())));
        let Ok((mut file, len)) = opened else {
            return head(StatusCode::NOT_FOUND, 0);
        };
        let range = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok());
        let (status, start, end) = match wanted(range, len) {
            Wanted::Whole => (StatusCode::OK, 0, len),
            Wanted::Part(first, last) => (StatusCode::PARTIAL_CONTENT, first, last + 1),
            Wanted::Unsatisfiable => (StatusCode::RANGE_NOT_SATISFIABLE, 0, 0),
        };
        let mut r = head(status, end - start);
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(name)));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
        let content_range = match status {
            StatusCode::PARTIAL_CONTENT => Some(format!("bytes {start}-{}/{len}", end - 1)),
            StatusCode::RANGE_NOT_SATISFIABLE => Some(format!("bytes */{len}")),
            _ => None,
        };
        if let Some(v) = content_range {
            h.insert(header::CONTENT_RANGE, HeaderValue::try_from(v).expect("digits, a space, '-', '*' and '/'"));
        }
        if !only_head && end > start {
            if let Err(e) = file.seek(SeekFrom::Start(start)) {
                tracing::debug!(%e, "media file could not be read");
                return head(StatusCode::INTERNAL_SERVER_ERROR, 0);
            }
            let part = tokio::fs::File::from_std(file).take(end - start);
            let chunks = tokio_util::io::ReaderStream::with_capacity(part, 64 * 1024);
            *r.body_mut() = StreamBody::new(chunks.map_ok(Frame::data)).boxed();
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// One request as raw bytes (so that nothing on the way cleans the path up): the response's
    /// head, lowercased, and its body.
    fn ask(server: &MediaServer, request: &str) -> (String, Vec<u8>) {
        let mut s = std::net::TcpStream::connect(server.origin.trim_start_matches("http://")).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        (String::from_utf8_lossy(&all[..split]).to_ascii_lowercase(), all[split + 4..].to_vec())
    }

    fn send(server: &MediaServer, method: &str, host: &str, path: &str, extra: &str) -> (String, Vec<u8>) {
        ask(server, &format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n"))
    }

    #[test]
    fn only_media_files_are_served_to_the_token_holder_with_byte_ranges() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("media");
        std::fs::create_dir(&dir).unwrap();
        let body: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        std::fs::write(dir.join("abc.mp3"), &body).unwrap();
        std::fs::write(dir.join("empty.wav"), b"").unwrap();
        std::fs::write(root.path().join("secret.mp3"), b"outside").unwrap();
        std::fs::write(dir.join(".tmp123"), b"half").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.path().join("secret.mp3"), dir.join("link.mp3")).unwrap();
        let server = MediaServer::start(dir).unwrap();
        let host = server.origin.trim_start_matches("http://").to_owned();
        let base = server.base_url();
        let url = |name: &str| format!("{}{name}", base.trim_start_matches(&server.origin));
        let get = |path: &str, extra: &str| send(&server, "GET", &host, path, extra);
        let abc = url("abc.mp3");

        let (head, got) = get(&abc, "");
        assert!(head.starts_with("http/1.1 200") && head.contains("content-type: audio/mpeg"), "{head}");
        assert!(head.contains("accept-ranges: bytes") && head.contains("content-length: 5000"), "{head}");
        assert!(head.contains("x-content-type-options: nosniff") && !head.contains("content-range"), "{head}");
        assert_eq!(got, body);

        let (head, got) = get(&abc, "Range: bytes=1000-1099\r\n");
        assert!(head.starts_with("http/1.1 206") && head.contains("content-range: bytes 1000-1099/5000"), "{head}");
        assert!(head.contains("content-length: 100"), "{head}");
        assert_eq!(got, &body[1000..1100]);
        // Open-ended, past the end (cut at the end), suffix, a suffix longer than the file.
        let (head, got) = get(&abc, "Range: bytes=100-\r\n");
        assert!(head.starts_with("http/1.1 206") && head.contains("content-range: bytes 100-4999/5000"), "{head}");
        assert_eq!(got, &body[100..]);
        let (head, got) = get(&abc, "Range: bytes=4990-9999\r\n");
        assert!(head.contains("content-range: bytes 4990-4999/5000"), "{head}");
        assert_eq!(got, &body[4990..]);
        let (head, got) = get(&abc, "Range: bytes=-100\r\n");
        assert!(head.starts_with("http/1.1 206") && head.contains("content-range: bytes 4900-4999/5000"), "{head}");
        assert_eq!(got, &body[4900..]);
        let (head, got) = get(&abc, "Range: bytes=-6000\r\n");
        assert!(head.contains("content-range: bytes 0-4999/5000"), "{head}");
        assert_eq!(got, body);
        // Unsatisfiable or malformed byte ranges: 416 with the length; another unit or several
        // ranges: the whole file.
        for range in ["bytes=5000-", "bytes=-0", "bytes=20-10", "bytes=abc-", "bytes=0-1 x"] {
            let (head, got) = get(&abc, &format!("Range: {range}\r\n"));
            assert!(head.starts_with("http/1.1 416") && head.contains("content-range: bytes */5000"), "{range}: {head}");
            assert!(got.is_empty(), "{range}");
        }
        for range in ["items=0-10", "bytes=0-9, 20-29"] {
            let (head, got) = get(&abc, &format!("Range: {range}\r\n"));
            assert!(head.starts_with("http/1.1 200"), "{range}: {head}");
            assert_eq!(got, body, "{range}");
        }
        let (head, got) = get(&url("empty.wav"), "");
        assert!(head.starts_with("http/1.1 200") && head.contains("content-length: 0") && got.is_empty(), "{head}");
        let (head, _) = get(&url("empty.wav"), "Range: bytes=0-\r\n");
        assert!(head.starts_with("http/1.1 416") && head.contains("bytes */0"), "{head}");

        // HEAD: the same head, no body.
        let (head, got) = send(&server, "HEAD", &host, &abc, "");
        assert!(head.starts_with("http/1.1 200") && head.contains("content-length: 5000") && got.is_empty(), "{head}");
        let (head, got) = send(&server, "HEAD", &host, &abc, "Range: bytes=-100\r\n");
        assert!(head.starts_with("http/1.1 206") && head.contains("content-length: 100") && got.is_empty(), "{head}");
        assert!(head.contains("content-range: bytes 4900-4999/5000"), "{head}");

        let (head, got) = send(&server, "POST", &host, &abc, "Content-Length: 0\r\n");
        assert!(head.starts_with("http/1.1 405") && head.contains("allow: get, head") && got.is_empty(), "{head}");

        for path in [
            "/wrongtoken/abc.mp3",
            "/abc.mp3",
            // The token less its last digit.
            &format!("/{}/abc.mp3", &base[base.len() - 65..base.len() - 2]),
            &url("../secret.mp3"),
            &url("%2e%2e%2fsecret.mp3"),
            &url("..%2fsecret.mp3"),
            &url(".tmp123"),
            &url("link.mp3"),
            &url("missing.mp3"),
            &url("abc.mp3?x=1"),
            &url(""),
        ] {
            let (head, got) = get(path, "");
            assert!(head.starts_with("http/1.1 404") && got.is_empty(), "{path}: {head}");
        }
        // A page elsewhere that resolves its own name to 127.0.0.1 sends its own Host.
        for host in ["evil.example:80", "127.0.0.1", "localhost"] {
            let (head, got) = send(&server, "GET", host, &abc, "");
            assert!(head.starts_with("http/1.1 403") && got.is_empty(), "{host}: {head}");
        }
        let (head, _) = send(&server, "GET", &host, &abc, "Host: evil.example\r\n");
        assert!(head.starts_with("http/1.1 403"), "two hosts: {head}");
        let (head, _) = ask(&server, &format!("GET {abc} HTTP/1.0\r\n\r\n"));
        assert!(head.starts_with("http/1.0 403"), "no host: {head}");
        // A request's head is capped.
        let (head, _) = get(&abc, &format!("X-Pad: {}\r\n", "a".repeat(MAX_HEAD)));
        assert!(head.starts_with("http/1.1 431"), "{head}");
    }
}
