//! A server that misbehaves — a refused key, a busy server, a crash, a stream cut mid-answer,
//! events that are not JSON, silence — met through the service layer on a real lecture: each gives
//! its message, the partial answer of a cut stream is kept and marked, the app keeps working, and
//! the database does not change. The misbehaving server is a few lines of HTTP written here: the
//! point is to send what a well-behaved server never would.

mod support;

use kogi_core::answer::{AnswerWith, Rung};
use kogi_core::generate::FinishReason;
use kogi_core::inference::runtime::Provider;
use kogi_core::server::{Engine, ServerSettings};
use kogi_core::service::{AskRequest, Asked, IndexWhen, Job, Kogi};
use kogi_core::settings::Settings;
use kogi_core::transcript::import::ImportOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the server answers a chat completion.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Fine,
    Unauthorized,
    /// 404 for the chat: the server has no such model.
    NoSuchModel,
    /// 429 with `Retry-After: 1` for the first request, then fine.
    BusyOnce,
    /// 429 every time.
    AlwaysBusy,
    Crash,
    /// Three words, then the connection closes without `[DONE]`.
    CutAfterThree,
    /// Two words, then an event that is not JSON.
    Garbage,
    /// Headers, then nothing.
    Stall,
    /// Words slowly, for cancelling.
    Slow,
}

struct FaultServer {
    port: u16,
    fault: Arc<Mutex<Fault>>,
    chats: Arc<AtomicUsize>,
    /// The Authorization header of the last request.
    auth: Arc<Mutex<Option<String>>>,
}

impl FaultServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let fault = Arc::new(Mutex::new(Fault::Fine));
        let chats = Arc::new(AtomicUsize::new(0));
        let auth = Arc::new(Mutex::new(None));
        let (f, c, a) = (fault.clone(), chats.clone(), auth.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (f, c, a) = (f.clone(), c.clone(), a.clone());
                std::thread::spawn(move || serve(conn, *f.lock().unwrap(), &c, &a));
            }
        });
        Self { port, fault, chats, auth }
    }

    fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }
}

fn serve(mut conn: TcpStream, fault: Fault, chats: &AtomicUsize, auth: &Mutex<Option<String>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut length = 0;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        let lower = h.to_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("authorization:") {
            *auth.lock().unwrap() = Some(h[14..].trim().to_owned());
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let reply = |conn: &mut TcpStream, status: &str, extra: &str, body: &str| {
        let _ = write!(conn, "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}", body.len());
    };
    match path.as_str() {
        "/v1/models" => return reply(&mut conn, "200 OK", "", r#"{"object":"list","data":[{"id":"m","object":"model","max_model_len":2048}]}"#),
        "/v1/chat/completions" => {}
        _ => return reply(&mut conn, "404 Not Found", "", r#"{"detail":"Not Found"}"#),
    }
    let n = chats.fetch_add(1, Ordering::SeqCst);
    let event = |word: &str| format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{word}\"}},\"finish_reason\":null}}]}}\n\n");
    let stream_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
    match fault {
        Fault::Unauthorized => reply(&mut conn, "401 Unauthorized", "", r#"{"detail":"Invalid API key"}"#),
        Fault::NoSuchModel => reply(&mut conn, "404 Not Found", "", r#"{"error":{"message":"The model `m` does not exist."}}"#),
        Fault::BusyOnce if n == 0 => reply(&mut conn, "429 Too Many Requests", "Retry-After: 1\r\n", r#"{"error":{"message":"busy"}}"#),
        Fault::AlwaysBusy => reply(&mut conn, "429 Too Many Requests", "Retry-After: 0\r\n", r#"{"error":{"message":"queue full"}}"#),
        Fault::Crash => reply(&mut conn, "500 Internal Server Error", "", r#"{"error":{"message":"CUDA out of memory"}}"#),
        Fault::Stall => {
            let _ = conn.write_all(stream_head.as_bytes());
            std::thread::sleep(Duration::from_secs(30));
        }
        Fault::CutAfterThree | Fault::Garbage | Fault::Slow | Fault::Fine | Fault::BusyOnce => {
            let _ = conn.write_all(stream_head.as_bytes());
            let words = ["The", " lecture", " says", " scaling", " helps", "."];
            for (i, w) in words.iter().enumerate() {
                if matches!(fault, Fault::CutAfterThree) && i == 3 {
                    return; // the connection closes mid-answer
                }
                if matches!(fault, Fault::Garbage) && i == 2 {
                    let _ = conn.write_all(b"data: {\"choices\": [oops\n\n");
                    std::thread::sleep(Duration::from_millis(200));
                    return;
                }
                if conn.write_all(event(w).as_bytes()).is_err() {
                    return;
                }
                let _ = conn.flush();
                if matches!(fault, Fault::Slow) {
                    std::thread::sleep(Duration::from_millis(400));
                }
            }
            let _ = conn.write_all(b"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
        }
    }
}

/// A lecture database on disk (so "unchanged" can be checked byte for byte), answered by `server`.
fn kogi(server: &FaultServer, dir: &std::path::Path) -> Kogi {
    let settings = Settings {
        models_dir: Some(support::models_dir()),
        provider: Provider::Cpu,
        threads: Some(2),
        answer_with: AnswerWith::Model,
        engine: Engine::Server,
        server: ServerSettings {
            base_url: server.url(),
            model: "m".into(),
            first_token_timeout_s: 2.0,
            idle_timeout_s: 1.0,
            ..Default::default()
        },
        ..Default::default()
    };
    let k = Kogi::new(dir.join("kogi.sqlite3"), settings, Some(dir.join("settings.json")));
    let cancel = AtomicBool::new(false);
    let sample = support::repo().join("examples/sample-lecture.srt");
    k.import_file(&sample, &ImportOptions::default(), IndexWhen::Always, &mut Job::silent(&cancel)).unwrap();
    k
}

fn ask(k: &Kogi) -> kogi_core::Result<Asked> {
    let cancel = AtomicBool::new(false);
    let request = AskRequest { question: "What is inference time scaling?".into(), modes: vec![Rung::Windows], ..Default::default() };
    k.ask(&request, &mut Job::silent(&cancel))
}

fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    // A checkpoint folds the WAL into the file, so equal bytes mean equal contents.
    let db = rusqlite::Connection::open(dir.join("kogi.sqlite3")).unwrap();
    db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    drop(db);
    std::fs::read(dir.join("kogi.sqlite3")).unwrap()
}

#[test]
fn every_server_fault_gets_its_message_and_changes_nothing() {
    let server = FaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    let k = kogi(&server, dir.path());
    let fine = ask(&k).unwrap();
    assert_eq!(fine.answers[0].text, "The lecture says scaling helps.");
    assert_eq!(fine.answered_by.as_deref(), Some(format!("127.0.0.1:{}", server.port).as_str()));
    let before = database_bytes(dir.path());

    let mut seen = Vec::new();
    for (fault, expect) in [
        (Fault::Unauthorized, "wants an API key"),
        (Fault::NoSuchModel, "has no model"),
        (Fault::AlwaysBusy, "busy (429"),
        (Fault::Crash, "CUDA out of memory"),
        (Fault::Stall, "first-word timeout"),
    ] {
        server.set(fault);
        let started = Instant::now();
        let e = ask(&k).unwrap_err().to_string();
        assert!(e.contains(expect) && e.contains("127.0.0.1"), "{fault:?}: {e}");
        assert!(started.elapsed() < Duration::from_secs(15), "{fault:?} took {:?}", started.elapsed());
        seen.push(format!("{fault:?}: {e}"));
    }
    for (fault, kept, why) in [
        (Fault::CutAfterThree, "The lecture says", "closed the stream"),
        (Fault::Garbage, "The lecture", "cannot read"),
    ] {
        server.set(fault);
        let a = ask(&k).unwrap().answers.remove(0);
        assert_eq!(a.text, kept, "{fault:?}");
        assert!(a.cut && a.finish == Some(FinishReason::Interrupted), "{fault:?}");
        assert!(a.interrupted.as_deref().unwrap().contains(why), "{fault:?}: {:?}", a.interrupted);
        seen.push(format!("{fault:?}: kept {kept:?}, marked: {}", a.interrupted.unwrap()));
    }
    // A busy server that asks for a second is waited for, and then answers.
    server.set(Fault::BusyOnce);
    server.chats.store(0, Ordering::SeqCst);
    let started = Instant::now();
    assert_eq!(ask(&k).unwrap().answers[0].text, "The lecture says scaling helps.");
    assert!(started.elapsed() >= Duration::from_millis(900), "Retry-After was not honoured");
    // https to a server that speaks plain http: a TLS failure, said as one.
    // An address without its /v1: everything answers 404, which must not pass as a server without a model list.
    let no_v1 = ServerSettings { base_url: server.url().trim_end_matches("/v1").to_owned(), model: "m".into(), ..Default::default() };
    let e = k.test_server(&no_v1, None).unwrap_err().to_string();
    assert!(e.contains("not found") && e.contains("/v1"), "{e}");
    seen.push(format!("no /v1: {e}"));
    let tls = ServerSettings { base_url: server.url().replace("http://", "https://"), model: "m".into(), ..Default::default() };
    let e = k.test_server(&tls, None).unwrap_err().to_string();
    assert!(e.contains("secure connection failed"), "{e}");
    seen.push(format!("TLS: {e}"));
    // The app keeps working, and nothing was written.
    server.set(Fault::Fine);
    assert_eq!(ask(&k).unwrap().answers[0].text, "The lecture says scaling helps.");
    assert_eq!(database_bytes(dir.path()), before, "a server fault changed the database");
    for s in seen {
        eprintln!("{s}");
    }
}

#[test]
fn a_stored_key_is_sent_and_a_refused_one_is_named_by_its_last_characters() {
    let server = FaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    let k = kogi(&server, dir.path());
    k.set_server_key(Some("sk-test-secret-9876")).unwrap();
    ask(&k).unwrap();
    assert_eq!(server.auth.lock().unwrap().as_deref(), Some("Bearer sk-test-secret-9876"));
    server.set(Fault::Unauthorized);
    let e = ask(&k).unwrap_err().to_string();
    assert!(e.contains("refused the API key …9876") && !e.contains("secret"), "{e}");
    assert_eq!(k.status().server_key.as_deref(), Some("…9876"));
    // Stored apart from the settings, which can be shown and shared.
    let settings = std::fs::read_to_string(dir.path().join("settings.json")).unwrap_or_default();
    assert!(!settings.contains("secret"));
}

#[test]
fn cancel_closes_the_request_at_once_and_keeps_nothing() {
    let server = FaultServer::start();
    server.set(Fault::Slow);
    let dir = tempfile::tempdir().unwrap();
    let k = kogi(&server, dir.path());
    let cancel = Arc::new(AtomicBool::new(false));
    let c = cancel.clone();
    let pieces = Arc::new(AtomicUsize::new(0));
    let p = pieces.clone();
    let request = AskRequest { question: "What is inference time scaling?".into(), modes: vec![Rung::Windows], ..Default::default() };
    let asked = std::thread::scope(|s| {
        let h = s.spawn(|| {
            let mut job = Job::new(&c, |e| {
                if let kogi_core::service::Event::Text { .. } = e {
                    p.fetch_add(1, Ordering::SeqCst);
                }
            });
            k.ask(&request, &mut job)
        });
        while pieces.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let at = Instant::now();
        cancel.store(true, Ordering::SeqCst);
        let r = h.join().unwrap();
        (r, at.elapsed())
    });
    let (result, took) = asked;
    assert!(took < Duration::from_millis(300), "cancel took {took:?}");
    match result {
        Err(kogi_core::Error::Cancelled) => {}
        Ok(a) => assert_eq!(a.answers[0].finish, Some(FinishReason::Cancelled)),
        Err(e) => panic!("{e}"),
    }
}
