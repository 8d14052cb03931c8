//! A webhook receiver on 127.0.0.1 for the alarm tests: answers every request 200 and keeps its
//! body. Plain TCP, one request a connection, so any client (and a daemon's retries) reach it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running receiver; it serves until the test process ends.
pub struct Webhook {
    /// Its port on 127.0.0.1.
    pub port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Webhook {
    /// A receiver on a free port.
    pub fn start() -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// A receiver on `port`, e.g. one a daemon already sends to and is refused on.
    pub fn on_port(port: u16) -> Self {
        Self::on(TcpListener::bind(("127.0.0.1", port)).unwrap())
    }

    fn on(listener: TcpListener) -> Self {
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if let Some(body) = read_body(&mut stream) {
                    kept.lock().unwrap().push(body);
                }
                let _ =
                    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        Self { port, bodies }
    }

    /// Where to send: `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// The bodies received so far, in order.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }

    /// The bodies received so far, as JSON (`null` for one that is not).
    pub fn json_bodies(&self) -> Vec<serde_json::Value> {
        self.bodies().iter().map(|b| serde_json::from_str(b).unwrap_or(serde_json::Value::Null)).collect()
    }
}

/// Reads a request's head, then `Content-Length` bytes of body.
fn read_body(stream: &mut TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return Some(body.to_string());
            }
        }
    }
}
