//! Idle connections kept for the next request to the same origin (HTTP keep-alive), for callers
//! that make many requests to few hosts (link checks). Without a pool every request opens its own
//! connection, so that its DNS, connect and TLS phases are measured; a request on a kept
//! connection has none of them (HAR: `-1`), as a browser's does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::io::Clock;
use super::{AbortOnDrop, Sender};

/// Connections idle longer than this are closed rather than reused: servers close theirs after a
/// while (nginx: 75 s, Apache: 5 s), and a request sent as they do is lost.
pub const MAX_IDLE: Duration = Duration::from_secs(4);
/// Idle connections kept per origin at most.
pub const MAX_IDLE_PER_ORIGIN: usize = 256;

/// A set of idle connections, shared by clones.
#[derive(Clone, Default)]
pub struct Pool {
    idle: Arc<Mutex<HashMap<Key, Vec<Conn>>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle: usize = self.lock().values().map(Vec::len).sum();
        f.debug_struct("Pool").field("idle", &idle).finish()
    }
}

/// What a kept connection may serve: the same origin, checked the same way.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub https: bool,
    pub host: String,
    pub port: u16,
    pub verify_tls: bool,
}

/// An open connection with its HTTP state.
pub(crate) struct Conn {
    pub sender: Sender,
    /// Keeps the connection's task alive; closing the connection when dropped.
    pub _driver: AbortOnDrop,
    pub clock: Arc<Clock>,
    pub h2: bool,
    pub server_ip: Option<String>,
    /// The local port: the HAR's `connection`, the same for every request on it.
    pub id: Option<String>,
    pub idle_since: Instant,
}

impl Pool {
    /// A new, empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Vec<Conn>>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently used idle connection for `key` that is still open.
    pub(crate) fn take(&self, key: &Key) -> Option<Conn> {
        let mut idle = self.lock();
        let conns = idle.get_mut(key)?;
        while let Some(conn) = conns.pop() {
            if conn.idle_since.elapsed() < MAX_IDLE && !conn.sender.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    /// Keeps `conn` for the next request to `key`.
    pub(crate) fn put(&self, key: Key, mut conn: Conn) {
        if conn.sender.is_closed() {
            return;
        }
        conn.idle_since = Instant::now();
        let mut idle = self.lock();
        let conns = idle.entry(key).or_default();
        if conns.len() < MAX_IDLE_PER_ORIGIN {
            conns.push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::fetch::{Client, Options, Request};

    /// A keep-alive HTTP/1.1 server on 127.0.0.1 that closes each connection after
    /// `per_connection` responses, without saying so; its count of connections accepted.
    async fn server(per_connection: usize) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    for _ in 0..per_connection {
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                        buf.drain(..end);
                        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if socket.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (base, accepted)
    }

    async fn get(url: &str, pool: &Pool) -> crate::fetch::Exchange {
        let options = Options { pool: Some(pool.clone()), ..Options::default() };
        Client::shared().fetch(Request::get(url.parse().unwrap()), &options).await
    }

    #[tokio::test]
    async fn requests_share_a_kept_connection_without_connect_phases() {
        let (base, accepted) = server(1000).await;
        let pool = Pool::new();
        let first = get(&base, &pool).await;
        let second = get(&base, &pool).await;
        let (first, second) = (first.outcome.unwrap(), second.outcome.unwrap());
        assert_eq!(second.body.as_ref(), b"ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for both requests");
        assert!(first.phases.connect.is_some());
        assert_eq!(second.phases.connect, None, "a kept connection is not connected again");
        assert!(second.phases.wait.is_some(), "{:?}", second.phases);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_replaced_by_a_fresh_one() {
        let (base, accepted) = server(1).await;
        let pool = Pool::new();
        for round in 0..5 {
            let exchange = get(&base, &pool).await;
            let response = exchange.outcome.unwrap_or_else(|e| panic!("request {round}: {e}"));
            assert_eq!(response.body.as_ref(), b"ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn without_a_pool_every_request_has_its_own_connection() {
        let (base, accepted) = server(1000).await;
        for _ in 0..3 {
            let exchange =
                Client::shared().fetch(Request::get(base.parse().unwrap()), &Options::default()).await;
            assert!(exchange.outcome.unwrap().phases.connect.is_some());
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }
}
