//! A loopback HTTP proxy that misbehaves on cue: it forwards requests to an upstream server,
//! or answers the n-th request with a fault of the script instead (429, 503, a reset, a page
//! cut short, a broken page, a slow answer). It records when each request arrived.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the proxy does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward it and return the upstream's answer.
    Pass,
    /// 429 with `Retry-After: N` seconds.
    RateLimited(u64),
    /// 503 Service Unavailable.
    Unavailable,
    /// Close the connection without answering.
    Reset,
    /// Forward it, then send only half of the upstream's answer and close.
    CutShort,
    /// A 200 whose body is a JSON array broken off in the middle.
    BrokenJson,
    /// Forward it after this many milliseconds.
    Slow(u64),
    /// Forward it, with the page's first event replaced by one that does not decode.
    BadEvent,
}

/// A running proxy.
pub struct Proxy {
    pub address: SocketAddr,
    arrivals: Arc<Mutex<Vec<(Instant, Fault)>>>,
}

impl Proxy {
    /// Listens on a free loopback port; request n (0-based) gets `script[n]`, later ones pass.
    pub fn start(upstream: SocketAddr, script: Vec<Fault>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let shared = (Arc::new(script), arrivals.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (script, arrivals) = (shared.0.clone(), shared.1.clone());
                std::thread::spawn(move || serve(client, upstream, &script, &arrivals));
            }
        });
        Self { address, arrivals }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// When each request arrived, and what it got.
    pub fn arrivals(&self) -> Vec<(Instant, Fault)> {
        self.arrivals.lock().unwrap().clone()
    }
}

/// One client connection: requests one after another (keep-alive) until it closes.
fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    script: &[Fault],
    arrivals: &Mutex<Vec<(Instant, Fault)>>,
) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut client = client;
    while let Some(request) = read_request(&mut reader) {
        let fault = {
            let mut arrivals = arrivals.lock().unwrap();
            let fault = script.get(arrivals.len()).copied().unwrap_or(Fault::Pass);
            arrivals.push((Instant::now(), fault));
            fault
        };
        let answer = |status: &str, extra: &str, body: &str| {
            format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n{body}",
                body.len()
            )
        };
        let sent = match fault {
            Fault::Pass => client.write_all(&forward(upstream, &request)),
            Fault::Slow(ms) => {
                std::thread::sleep(Duration::from_millis(ms));
                client.write_all(&forward(upstream, &request))
            }
            Fault::RateLimited(seconds) => client.write_all(
                answer(
                    "429 Too Many Requests",
                    &format!("retry-after: {seconds}\r\n"),
                    r#"{"message":"slow down"}"#,
                )
                .as_bytes(),
            ),
            Fault::Unavailable => client.write_all(
                answer("503 Service Unavailable", "", r#"{"message":"try later"}"#).as_bytes(),
            ),
            Fault::BrokenJson => client.write_all(
                answer(
                    "200 OK",
                    "x-result-count: 2\r\nx-limit: 2\r\n",
                    r#"[{"id":"a","timestamp":"#,
                )
                .as_bytes(),
            ),
            Fault::BadEvent => client.write_all(&with_bad_event(&forward(upstream, &request))),
            Fault::CutShort => {
                let whole = forward(upstream, &request);
                let _ = client.write_all(&whole[..whole.len() / 2]);
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
            Fault::Reset => {
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Reads one request (head and body); `None` when the client has closed.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
        // Upstream closes after each answer, so that its end is the answer's end.
        if !line.to_ascii_lowercase().starts_with("connection:") {
            head.extend_from_slice(line.as_bytes());
        }
        if line == "\r\n" {
            break;
        }
    }
    head.truncate(head.len() - 2);
    head.extend_from_slice(b"connection: close\r\n\r\n");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    head.extend_from_slice(&body);
    Some(head)
}

/// Sends a request upstream and reads its whole answer, with keep-alive for the client.
fn forward(upstream: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(upstream).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    // The client may send its next request on the same connection.
    let text = String::from_utf8_lossy(&answer);
    if let Some(end) = text.find("\r\n\r\n") {
        let head = text[..end]
            .replace("connection: close\r\n", "")
            .replace("\r\nconnection: close", "");
        let mut kept = head.into_bytes();
        kept.extend_from_slice(&answer[end..]);
        return kept;
    }
    answer
}

/// An answer whose JSON array's first element is replaced by an event without a timestamp.
fn with_bad_event(answer: &[u8]) -> Vec<u8> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&answer[..end]);
    let mut events: Vec<Box<serde_json::value::RawValue>> =
        serde_json::from_slice(&answer[end..]).unwrap();
    events[0] =
        serde_json::value::RawValue::from_string(r#"{"id":"broken","note":"no timestamp"}"#.into())
            .unwrap();
    let body = serde_json::to_vec(&events).unwrap();
    let head: String = head
        .split("\r\n")
        .filter(|line| {
            !line.to_ascii_lowercase().starts_with("content-length:") && !line.is_empty()
        })
        .map(|line| format!("{line}\r\n"))
        .collect();
    let mut out = format!("{head}content-length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(&body);
    out
}
