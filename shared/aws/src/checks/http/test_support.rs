//! For tests: a tiny HTTP/1.1 server on 127.0.0.1 that answers by path, and a name lookup from a
//! table.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::client::Lookup;

/// A lookup answering from a table of name → address.
pub(super) fn table_lookup(entries: &[(&str, &str)]) -> Lookup {
    let table: HashMap<String, IpAddr> = entries
        .iter()
        .map(|(name, ip)| ((*name).to_owned(), ip.parse().expect("test address")))
        .collect();
    Arc::new(move |host: String| {
        let found = table.get(&host).copied();
        Box::pin(async move {
            found.map(|ip| vec![ip]).ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("no such host {host}"))
            })
        })
    })
}

/// What the server saw.
#[derive(Default)]
pub(super) struct Seen {
    hits: Mutex<HashMap<String, usize>>,
    hosts: Mutex<Vec<String>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    connections: AtomicUsize,
}

/// A server on 127.0.0.1. Paths:
/// - `/ok`: 200, JSON `{"status":"ok","version":"2.1"}`, `x-version: 2`;
/// - `/flaky`: every fourth request 503 `upstream down`, else 200;
/// - `/slow`: 200 after 150ms; `/busy`: 200 after 30ms; `/hang`: 200 after 3s;
/// - `/echo-fail`: 500 with the request's headers as the body;
/// - `/needs-key`: 200 with `x-api-key: k3y-from-ssm` and `authorization: Bearer t0ken`, else 401;
/// - `/routed`: 200 with `x-route: green`, else 404;
/// - `/redirect`: 301 to the metadata service.
pub(super) struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Seen>,
}

impl TestServer {
    /// Starts a server on a free port.
    pub async fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let seen = Arc::new(Seen::default());
        let accepting = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepting.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, Arc::clone(&accepting)));
            }
        });
        TestServer { addr, seen }
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many requests hit `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.seen
            .hits
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// The `Host` headers seen.
    pub fn hosts(&self) -> Vec<String> {
        self.seen.hosts.lock().expect("lock").clone()
    }

    /// The most requests in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.seen.max_in_flight.load(Ordering::SeqCst)
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.seen.connections.load(Ordering::SeqCst)
    }
}

/// A port nothing listens on.
pub(super) async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address").port()
}

async fn serve(stream: TcpStream, seen: Arc<Seen>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default();
        let path = target.split('?').next().unwrap_or_default().to_owned();

        let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let hit = {
            let mut hits = seen.hits.lock().expect("lock");
            let count = hits.entry(path.clone()).or_default();
            *count += 1;
            *count
        };
        if let Some((_, host)) = headers.iter().find(|(name, _)| name == "host") {
            seen.hosts.lock().expect("lock").push(host.clone());
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(found, _)| found == name)
                .map(|(_, value)| value.as_str())
        };
        let json = "content-type: application/json\r\nx-version: 2\r\n";
        let (status, extra, body): (&str, &str, String) = match path.as_str() {
            "/ok" => ("200 OK", json, r#"{"status":"ok","version":"2.1"}"#.into()),
            "/flaky" if hit % 4 == 0 => ("503 Service Unavailable", "", "upstream down".into()),
            "/flaky" => ("200 OK", "", "ok".into()),
            "/slow" => {
                tokio::time::sleep(Duration::from_millis(150)).await;
                ("200 OK", "", "ok".into())
            }
            "/busy" => {
                tokio::time::sleep(Duration::from_millis(30)).await;
                ("200 OK", "", "ok".into())
            }
            "/hang" => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                ("200 OK", "", "late".into())
            }
            "/echo-fail" => {
                let echoed: Vec<String> = headers
                    .iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect();
                ("500 Internal Server Error", "", echoed.join(" "))
            }
            "/needs-key"
                if header("x-api-key") == Some("k3y-from-ssm")
                    && header("authorization") == Some("Bearer t0ken") =>
            {
                ("200 OK", "", "ok".into())
            }
            "/needs-key" => ("401 Unauthorized", "", "who are you".into()),
            "/routed" if header("x-route") == Some("green") => ("200 OK", "", "green".into()),
            "/routed" => ("404 Not Found", "", "blue default".into()),
            "/redirect" => (
                "301 Moved Permanently",
                "location: http://169.254.169.254/latest/meta-data/\r\n",
                String::new(),
            ),
            _ => ("404 Not Found", "", "no such path".into()),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{extra}\r\n",
            body.len()
        );
        let mut response = head.into_bytes();
        if method != "HEAD" {
            response.extend_from_slice(body.as_bytes());
        }
        let written = write.write_all(&response).await;
        seen.in_flight.fetch_sub(1, Ordering::SeqCst);
        if written.is_err() {
            return;
        }
    }
}
