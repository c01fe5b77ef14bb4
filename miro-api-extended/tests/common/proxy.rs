//! A lossy HTTP/1.1 proxy on 127.0.0.1 for the chaos test: it relays each request to one
//! upstream and its answer back, and for the OAuth requests (`POST /v1/oauth/token`,
//! `POST /v2/oauth/revoke`, `POST /v1/oauth/revoke`) it may, by a seeded random draw,
//! close the client's connection before forwarding (the request never reaches the server)
//! or after the server answered (the answer is lost). API calls are relayed untouched. OAuth
//! requests are also delayed on the way there and back (a slow network); one whose sender
//! went away during the first delay is not forwarded, as a request still on the sender's
//! side of the network would not be.
//!
//! It reads requests and answers one at a time per connection (clients do not pipeline), so
//! keep-alive connections work and each request is judged on its own; message ends come from
//! `Content-Length` or chunked framing (parsed with `httparse`), else the end of the stream.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to OAuth requests while it is dropping.
#[derive(Clone, Copy, Debug)]
pub struct Losses {
    /// Chance that the connection is closed before the request is forwarded.
    pub before: f64,
    /// Chance that the connection is closed after the server answered, the answer unsent.
    pub after: f64,
    /// Each OAuth request waits up to this long (drawn) before it is forwarded, and again
    /// before its answer is relayed: a slow network, so that kills hit refreshes in flight.
    pub max_delay: Duration,
}

/// What the proxy saw and did (all counts since it started).
#[derive(Debug, Default)]
pub struct Counts {
    /// Client connections accepted.
    pub connections: AtomicUsize,
    /// Requests relayed with their answer (API calls and OAuth requests).
    pub relayed: AtomicUsize,
    /// OAuth requests received.
    pub oauth: AtomicUsize,
    /// OAuth requests dropped before forwarding.
    pub dropped_before: AtomicUsize,
    /// OAuth requests forwarded whose answer was dropped.
    pub dropped_after: AtomicUsize,
    /// OAuth requests not forwarded because their sender closed the connection (was killed)
    /// during the delay before forwarding.
    pub abandoned: AtomicUsize,
    /// Refresh-token grants the server answered 200 (relayed or dropped).
    pub refresh_granted: AtomicUsize,
    /// Refresh-token grants the server refused (a 4xx: a spent or unknown token).
    pub refresh_refused: AtomicUsize,
}

/// A running proxy; it stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    dropping: Arc<AtomicBool>,
    counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    upstream: SocketAddr,
    losses: Losses,
    dropping: Arc<AtomicBool>,
    counts: Arc<Counts>,
    rng: Mutex<StdRng>,
}

enum Fate {
    Before,
    After,
    Relay,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and relays to `upstream`, dropping OAuth requests
    /// as `losses` says (draws from a generator seeded with `seed`; the order in which
    /// requests arrive is up to the processes, so a seed repeats the draws, not the run).
    pub async fn start(upstream: SocketAddr, losses: Losses, seed: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy binds a port");
        let addr = listener.local_addr().expect("the proxy's address");
        let dropping = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let shared = Arc::new(Shared {
            upstream,
            losses,
            dropping: dropping.clone(),
            counts: counts.clone(),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                shared.counts.connections.fetch_add(1, Ordering::Relaxed);
                let shared = shared.clone();
                tokio::spawn(async move {
                    // A connection ends with an error when a side goes away: nothing to do.
                    let _ = shared.serve(client).await;
                });
            }
        });
        Proxy {
            addr,
            dropping,
            counts,
            task,
        }
    }

    /// The base URL clients use instead of the upstream's.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts or stops dropping OAuth requests (delays apply either way).
    pub fn set_dropping(&self, on: bool) {
        self.dropping.store(on, Ordering::SeqCst);
    }

    /// The counts so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shared {
    fn draw_fate(&self) -> Fate {
        if !self.dropping.load(Ordering::SeqCst) {
            return Fate::Relay;
        }
        let x: f64 = self.rng.lock().unwrap().random();
        if x < self.losses.before {
            Fate::Before
        } else if x < self.losses.before + self.losses.after {
            Fate::After
        } else {
            Fate::Relay
        }
    }

    async fn delay(&self) {
        let max = self.losses.max_delay.as_millis() as u64;
        if max > 0 {
            let ms = self.rng.lock().unwrap().random_range(0..=max);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }

    async fn serve(&self, client: TcpStream) -> io::Result<()> {
        let mut client = Reader::new(client);
        let mut upstream: Option<Reader> = None;
        loop {
            let Some(request) = client.read_message(Side::Request).await? else {
                return Ok(());
            };
            let oauth = request.method == "POST"
                && ["/v1/oauth/token", "/v2/oauth/revoke", "/v1/oauth/revoke"]
                    .iter()
                    .any(|p| request.path.split('?').next() == Some(*p));
            let refresh = oauth && contains(&request.raw, b"grant_type=refresh_token");
            let fate = if oauth {
                self.counts.oauth.fetch_add(1, Ordering::Relaxed);
                self.delay().await;
                self.draw_fate()
            } else {
                Fate::Relay
            };
            if let Fate::Before = fate {
                self.counts.dropped_before.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            if oauth && client.gone() {
                // Its sender died while the request was on its way (the delay stands for the
                // sender's side of the network): it never leaves.
                self.counts.abandoned.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            let up = match &mut upstream {
                Some(up) => up,
                None => upstream.insert(Reader::new(TcpStream::connect(self.upstream).await?)),
            };
            up.stream.write_all(&request.raw).await?;
            let Some(answer) = up.read_message(Side::Response).await? else {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "upstream closed",
                ));
            };
            if refresh {
                let counter = if (200..300).contains(&answer.status) {
                    &self.counts.refresh_granted
                } else {
                    &self.counts.refresh_refused
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            if oauth {
                self.delay().await;
            }
            if let Fate::After = fate {
                self.counts.dropped_after.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            client.stream.write_all(&answer.raw).await?;
            self.counts.relayed.fetch_add(1, Ordering::Relaxed);
            if request.close || answer.close {
                return Ok(());
            }
        }
    }
}

/// Header names and values, owned.
fn owned(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Request,
    Response,
}

/// One whole HTTP message, as received.
struct Message {
    raw: Vec<u8>,
    method: String,
    path: String,
    status: u16,
    /// The connection ends after this message (`Connection: close`, or a body up to EOF).
    close: bool,
}

struct Reader {
    stream: TcpStream,
    buf: Vec<u8>,
}

enum Body {
    None,
    Length(usize),
    Chunked,
    UntilEof,
}

impl Reader {
    fn new(stream: TcpStream) -> Reader {
        Reader {
            stream,
            buf: Vec::with_capacity(8192),
        }
    }

    /// Whether the peer has closed its side (a clean end of stream, or a reset) without
    /// waiting; bytes that arrived meanwhile are kept.
    fn gone(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        match self.stream.try_read(&mut chunk) {
            Ok(0) => true,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                false
            }
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        }
    }

    /// Reads more bytes into the buffer; `false` at the end of the stream.
    async fn more(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    fn eof() -> io::Error {
        io::Error::new(io::ErrorKind::UnexpectedEof, "the message ended early")
    }

    /// Takes `n` bytes off the buffer, reading as needed.
    async fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.more().await? {
                return Err(Self::eof());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Takes one line (with its CRLF) off the buffer.
    async fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return Ok(self.buf.drain(..i + 2).collect());
            }
            if !self.more().await? {
                return Err(Self::eof());
            }
        }
    }

    /// Reads one request or response; `None` when the stream ends before its first byte.
    async fn read_message(&mut self, side: Side) -> io::Result<Option<Message>> {
        let (head_len, method, path, status, body, close) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let parsed = match side {
                Side::Request => {
                    let mut req = httparse::Request::new(&mut headers);
                    match req.parse(&self.buf) {
                        Ok(httparse::Status::Complete(n)) => Some((
                            n,
                            req.method.unwrap_or_default().to_string(),
                            req.path.unwrap_or_default().to_string(),
                            0,
                            owned(req.headers),
                        )),
                        Ok(httparse::Status::Partial) => None,
                        Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
                    }
                }
                Side::Response => {
                    let mut resp = httparse::Response::new(&mut headers);
                    match resp.parse(&self.buf) {
                        Ok(httparse::Status::Complete(n)) => Some((
                            n,
                            String::new(),
                            String::new(),
                            resp.code.unwrap_or_default(),
                            owned(resp.headers),
                        )),
                        Ok(httparse::Status::Partial) => None,
                        Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
                    }
                }
            };
            if let Some((n, method, path, status, headers)) = parsed {
                let value = |name: &str| {
                    headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.to_ascii_lowercase())
                };
                let close = value("connection").is_some_and(|v| v.contains("close"));
                let body = if value("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
                    Body::Chunked
                } else if let Some(len) = value("content-length") {
                    Body::Length(len.trim().parse().map_err(|_| {
                        io::Error::new(io::ErrorKind::InvalidData, "a bad Content-Length")
                    })?)
                } else if side == Side::Response
                    && !(status == 204 || status == 304 || (100..200).contains(&status))
                {
                    Body::UntilEof
                } else {
                    Body::None
                };
                break (n, method, path, status, body, close);
            }
            if !self.more().await? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(Self::eof());
            }
        };
        let mut raw = self.take(head_len).await?;
        let mut close = close;
        match body {
            Body::None => {}
            Body::Length(n) => raw.extend(self.take(n).await?),
            Body::Chunked => loop {
                let line = self.line().await?;
                let size = std::str::from_utf8(&line)
                    .ok()
                    .and_then(|l| l.trim().split(';').next())
                    .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a bad chunk"))?;
                raw.extend(line);
                if size == 0 {
                    // Trailers up to the empty line.
                    loop {
                        let line = self.line().await?;
                        let end = line == b"\r\n";
                        raw.extend(line);
                        if end {
                            break;
                        }
                    }
                    break;
                }
                raw.extend(self.take(size + 2).await?);
            },
            Body::UntilEof => {
                while self.more().await? {}
                raw.append(&mut self.buf);
                close = true;
            }
        }
        Ok(Some(Message {
            raw,
            method,
            path,
            status,
            close,
        }))
    }
}
