//! Recordings play in the window from a loopback HTTP server of the app's own. WebKitGTK's media
//! player (GStreamer) opens only http(s), blob and file URLs: a custom scheme such as Tauri's asset
//! protocol fails there with MEDIA_ERR_SRC_NOT_SUPPORTED, and a blob would hold a whole recording
//! in memory. The server answers only GET/HEAD for files directly inside kogi's media folder,
//! only on 127.0.0.1, only with the exact Host (no DNS rebinding) and only under a random token
//! the window gets over IPC; byte ranges let the player seek.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

pub struct MediaServer {
    /// `http://127.0.0.1:<port>`: the only origin the CSP lets media come from.
    pub origin: String,
    token: String,
}

impl MediaServer {
    pub fn start(dir: PathBuf) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(io::Error::other)?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let host = origin.trim_start_matches("http://").to_owned();
        let (t, d) = (token.clone(), dir);
        std::thread::Builder::new().name("media-server".into()).spawn(move || {
            for conn in listener.incoming().flatten() {
                let (host, token, dir) = (host.clone(), t.clone(), d.clone());
                let _ = std::thread::Builder::new().name("media-conn".into()).spawn(move || {
                    if let Err(e) = serve(conn, &host, &token, &dir) {
                        tracing::debug!(%e, "media connection ended");
                    }
                });
            }
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

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` against a file of `len` bytes: the first and last byte,
/// `Err` when it cannot be satisfied; `None` (the whole file) for several ranges.
fn parse_range(h: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        match b.parse::<u64>() {
            Ok(n) if n > 0 && len > 0 => Ok((len.saturating_sub(n), len - 1)),
            _ => Err(()),
        }
    } else {
        match (a.parse::<u64>(), if b.is_empty() { Ok(u64::MAX) } else { b.parse::<u64>() }) {
            (Ok(s), Ok(e)) if s < len && s <= e => Ok((s, e.min(len - 1))),
            _ => Err(()),
        }
    };
    Some(r)
}

fn respond(out: &mut TcpStream, status: &str, headers: &[(&str, String)]) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())
}

fn serve(mut conn: TcpStream, host: &str, token: &str, dir: &std::path::Path) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?).take(16 * 1024);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (mut host_ok, mut range) = (false, None);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "host" => host_ok = v.trim() == host,
                "range" => range = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    let none = |out: &mut TcpStream, status| respond(out, status, &[("Content-Length", "0".into())]);
    if !host_ok {
        return none(&mut conn, "403 Forbidden");
    }
    if method != "GET" && method != "HEAD" {
        return respond(&mut conn, "405 Method Not Allowed", &[("Allow", "GET, HEAD".into()), ("Content-Length", "0".into())]);
    }
    let name = match target.strip_prefix('/').and_then(|p| p.split_once('/')) {
        Some((t, name)) if constant_time_eq(t.as_bytes(), token.as_bytes()) && valid_name(name) => name,
        _ => return none(&mut conn, "404 Not Found"),
    };
    let path = dir.join(name);
    // A regular file itself, never a link out of the folder.
    if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()) {
        return none(&mut conn, "404 Not Found");
    }
    let mut file = File::open(&path)?;
    let len = file.metadata()?.len();
    let mut headers = vec![
        ("Content-Type", content_type(name).to_owned()),
        ("Accept-Ranges", "bytes".to_owned()),
        ("Cache-Control", "private, max-age=3600".to_owned()),
    ];
    let (status, start, end) = match range.as_deref().and_then(|r| parse_range(r, len)) {
        Some(Ok((s, e))) => {
            headers.push(("Content-Range", format!("bytes {s}-{e}/{len}")));
            ("206 Partial Content", s, e + 1)
        }
        Some(Err(())) => {
            headers.push(("Content-Range", format!("bytes */{len}")));
            headers.push(("Content-Length", "0".into()));
            return respond(&mut conn, "416 Range Not Satisfiable", &headers);
        }
        None => ("200 OK", 0, len),
    };
    headers.push(("Content-Length", (end - start).to_string()));
    respond(&mut conn, status, &headers)?;
    if method == "GET" {
        file.seek(SeekFrom::Start(start))?;
        // The player closes the connection when it seeks elsewhere: the copy then simply fails.
        io::copy(&mut file.take(end - start), &mut conn)?;
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(server: &MediaServer, host: &str, path: &str, extra: &str) -> (String, Vec<u8>) {
        let addr = server.origin.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n").unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        (String::from_utf8_lossy(&all[..split]).into_owned(), all[split + 4..].to_vec())
    }

    #[test]
    fn only_media_files_are_served_to_the_token_holder_with_byte_ranges() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("media");
        std::fs::create_dir(&dir).unwrap();
        let body: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        std::fs::write(dir.join("abc.mp3"), &body).unwrap();
        std::fs::write(root.path().join("secret.mp3"), b"outside").unwrap();
        std::fs::write(dir.join(".tmp123"), b"half").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.path().join("secret.mp3"), dir.join("link.mp3")).unwrap();
        let server = MediaServer::start(dir).unwrap();
        let host = server.origin.trim_start_matches("http://").to_owned();
        let base = server.base_url();
        let url = |name: &str| format!("{}{name}", base.trim_start_matches(&server.origin));

        let (head, got) = get(&server, &host, &url("abc.mp3"), "");
        assert!(head.starts_with("HTTP/1.1 200") && head.contains("Content-Type: audio/mpeg") && head.contains("Accept-Ranges: bytes"), "{head}");
        assert_eq!(got, body);

        let (head, got) = get(&server, &host, &url("abc.mp3"), "Range: bytes=1000-1099\r\n");
        assert!(head.starts_with("HTTP/1.1 206") && head.contains("Content-Range: bytes 1000-1099/5000"), "{head}");
        assert_eq!(got, &body[1000..1100]);
        let (head, got) = get(&server, &host, &url("abc.mp3"), "Range: bytes=4990-\r\n");
        assert!(head.contains("Content-Range: bytes 4990-4999/5000"), "{head}");
        assert_eq!(got, &body[4990..]);
        let (head, got) = get(&server, &host, &url("abc.mp3"), "Range: bytes=-10\r\n");
        assert!(head.contains("Content-Range: bytes 4990-4999/5000"), "{head}");
        assert_eq!(got.len(), 10);
        let (head, _) = get(&server, &host, &url("abc.mp3"), "Range: bytes=5000-\r\n");
        assert!(head.starts_with("HTTP/1.1 416") && head.contains("bytes */5000"), "{head}");

        for path in ["/wrongtoken/abc.mp3", "/abc.mp3", &url("../secret.mp3"), &url("%2e%2e%2fsecret.mp3"), &url(".tmp123"), &url("link.mp3"), &url("missing.mp3")] {
            let (head, got) = get(&server, &host, path, "");
            assert!(head.starts_with("HTTP/1.1 404") && got.is_empty(), "{path}: {head}");
        }
        // A page elsewhere that resolves its own name to 127.0.0.1 sends its own Host.
        let (head, _) = get(&server, "evil.example:80", &url("abc.mp3"), "");
        assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    }
}
