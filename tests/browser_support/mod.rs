//! A tiny HTTP/1.1 fixture server on 127.0.0.1 for the browser pool tests.
//!
//! Routes: `/` (text + image), `/img.png`, `/tall`, `/set-cookie`, `/show-cookie`, `/echo`
//! (request headers as text), `/redirect` (302 → 301 → `/`), `/missing` (404), `/slow` (headers
//! and half a page, then nothing), `/broken-sub` (an image from a closed port), `/json`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A 2×2 red PNG.
pub const PNG: &[u8] = &[
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0, 253,
    212, 154, 115, 0, 0, 0, 16, 73, 68, 65, 84, 120, 156, 99, 248, 207, 192, 0, 68, 12, 16, 10, 0, 31, 238,
    3, 253, 139, 95, 20, 212, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

pub struct Fixture {
    pub addr: SocketAddr,
    /// A port on 127.0.0.1 nothing listens on (connections are refused).
    pub closed_port: u16,
}

impl Fixture {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Starts the server on the current runtime.
pub async fn start() -> Fixture {
    let closed_port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, closed_port));
        }
    });
    Fixture { addr, closed_port }
}

struct Request {
    path: String,
    headers: Vec<(String, String)>,
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Request { path, headers })
}

async fn serve(mut stream: TcpStream, closed_port: u16) {
    // One request per connection keeps the server trivial (`Connection: close`).
    let Some(request) = read_request(&mut stream).await else { return };
    let path = request.path.split('?').next().unwrap_or("/").to_string();
    let html = |body: &str| ("200 OK", "text/html; charset=utf-8", body.as_bytes().to_vec(), Vec::new());
    let (status, content_type, body, extra): (&str, &str, Vec<u8>, Vec<String>) = match path.as_str() {
        "/" => html(
            "<!doctype html><html><head><title>Fixture home</title></head><body>\
             <h1>Welcome to the fixture</h1><p>Hello from aviary.</p><img src=\"/img.png\" alt=\"dot\">\
             </body></html>",
        ),
        "/img.png" => ("200 OK", "image/png", PNG.to_vec(), Vec::new()),
        "/tall" => html(
            "<!doctype html><html><body style=\"margin:0\"><div style=\"height:3000px;\
             background:linear-gradient(#fff,#00f)\">tall page</div></body></html>",
        ),
        "/set-cookie" => (
            "200 OK",
            "text/html",
            b"<!doctype html><body>cookie set</body>".to_vec(),
            vec!["Set-Cookie: session=abc123; Path=/".to_string()],
        ),
        "/show-cookie" | "/echo" => {
            let lines: Vec<String> = request.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
            let cookie = request.headers.iter().find(|(n, _)| n == "cookie").map(|(_, v)| v.as_str());
            let text = format!(
                "<!doctype html><body><pre id=\"cookies\">cookies: {}</pre><pre id=\"headers\">{}</pre></body>",
                cookie.unwrap_or("none"),
                lines.join("\n")
            );
            html(&text)
        }
        "/redirect" => ("302 Found", "text/plain", Vec::new(), vec!["Location: /redirect2".to_string()]),
        "/redirect2" => ("301 Moved Permanently", "text/plain", Vec::new(), vec!["Location: /".to_string()]),
        "/missing" => {
            ("404 Not Found", "text/html", b"<!doctype html><body>not here</body>".to_vec(), Vec::new())
        }
        "/broken-sub" => html(&format!(
            "<!doctype html><body>broken image below<img src=\"http://127.0.0.1:{closed_port}/gone.png\"></body>"
        )),
        "/json" => ("200 OK", "application/json", br#"{"ok":true}"#.to_vec(), Vec::new()),
        "/slow" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n\
                        <!doctype html><body>still loading";
            let _ = stream.write_all(head.as_bytes()).await;
            // Never finish; the browser gives up (or the test ends) first.
            tokio::time::sleep(Duration::from_secs(120)).await;
            return;
        }
        _ => ("404 Not Found", "text/plain", b"no such fixture".to_vec(), Vec::new()),
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for line in extra {
        head.push_str(&line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

/// Width and height from a PNG's IHDR chunk.
pub fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 24 && &png[..8] == b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    (width, height)
}
