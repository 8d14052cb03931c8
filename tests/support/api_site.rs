//! A local JSON API for the `api` blueprint's tests (axum on 127.0.0.1:0), and a TLS server with
//! a self-signed certificate made at test time (rcgen), speaking HTTP/1.1 or HTTP/2 per ALPN.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The API key `POST /api/items` wants in `x-api-key`.
pub const API_KEY: &str = "k3y-Sup3r-s3cret-9731";

#[derive(Default)]
struct Items {
    next: AtomicU64,
    items: Mutex<HashMap<u64, Value>>,
    tokens: Mutex<Vec<String>>,
    /// Every request's method, path with query, headers and body, in order.
    seen: Mutex<Vec<Seen>>,
}

/// A request the site received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

pub struct ApiSite {
    pub addr: SocketAddr,
    state: Arc<Items>,
}

impl ApiSite {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://127.0.0.1:PORT`, for `env: {BASE: ...}`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

pub fn start_api_site() -> ApiSite {
    let state = Arc::new(Items::default());
    let routes = routes(state.clone());
    let addr =
        crate::support::spawn_server(
            move |listener| async move { axum::serve(listener, routes).await.unwrap() },
        );
    ApiSite { addr, state }
}

fn json_response(status: StatusCode, value: Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}

fn routes(state: Arc<Items>) -> Router {
    Router::new()
        .route("/api/items", post(create_item))
        .route("/api/items/{id}", get(read_item))
        .route(
            "/api/status/{code}",
            get(|Path(code): Path<u16>| async move {
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
                json_response(status, json!({"status": code}))
            }),
        )
        .route(
            "/api/slow/{ms}",
            get(|Path(ms): Path<u64>| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                json_response(StatusCode::OK, json!({"slept_ms": ms}))
            }),
        )
        .route(
            "/api/big/{bytes}",
            get(|Path(bytes): Path<usize>| async move {
                ([(header::CONTENT_TYPE, "text/plain")], "x".repeat(bytes)).into_response()
            }),
        )
        .route(
            "/api/stream/{bytes}",
            get(|Path(bytes): Path<usize>| async move {
                // Chunked, without Content-Length: the limit has to be found while reading.
                let chunks = (0..bytes.div_ceil(1024)).map(move |i| {
                    let len = 1024.min(bytes - i * 1024);
                    Ok::<_, Infallible>(Bytes::from(vec![b'y'; len]))
                });
                Response::builder()
                    .header(header::CONTENT_TYPE, "text/plain")
                    .body(Body::from_stream(futures::stream::iter(chunks.collect::<Vec<_>>())))
                    .unwrap()
            }),
        )
        .route(
            "/api/invalid-json",
            get(|| async {
                ([(header::CONTENT_TYPE, "application/json")], "{\"id\": 1, \"name\": ").into_response()
            }),
        )
        .route(
            "/api/catalog",
            get(|| async {
                json_response(
                    StatusCode::OK,
                    json!({"items": [
                        {"id": 7, "name": "widget", "sku": "W-1", "price": 9.5, "stock": 3, "tags": ["new"]},
                        {"id": 8, "name": "gadget", "sku": "G-1", "price": 20, "stock": 0, "tags": []},
                        {"id": 9, "name": "gizmo", "sku": "Z-1", "price": 35, "stock": 12, "tags": ["sale", "new"]}
                    ], "total": 3}),
                )
            }),
        )
        .route("/api/echo", get(echo).post(echo))
        .route(
            "/api/redirect/{n}",
            get(|Path(n): Path<u32>| async move {
                if n == 0 {
                    json_response(StatusCode::OK, json!({"arrived": true}))
                } else {
                    Redirect::to(&format!("/api/redirect/{}", n - 1)).into_response()
                }
            }),
        )
        .route("/api/loop/a", get(|| async { Redirect::to("/api/loop/b") }))
        .route("/api/loop/b", get(|| async { Redirect::to("/api/loop/a") }))
        .route("/api/login", post(login))
        .route("/api/whoami", get(whoami))
        .layer(axum::middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

async fn record(
    State(state): State<Arc<Items>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    state.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    });
    next.run(axum::extract::Request::from_parts(parts, Body::from(bytes))).await
}

async fn create_item(State(state): State<Arc<Items>>, headers: HeaderMap, body: Bytes) -> Response {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(API_KEY) {
        return json_response(StatusCode::UNAUTHORIZED, json!({"error": "missing or wrong x-api-key"}));
    }
    let Ok(input) = serde_json::from_slice::<Value>(&body) else {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "body is not JSON"}));
    };
    let id = state.next.fetch_add(1, Ordering::SeqCst) + 1;
    let item = json!({"id": id, "name": input["name"], "tags": ["new"], "price": 9.5, "owner": null});
    state.items.lock().unwrap().insert(id, item.clone());
    let mut response = json_response(StatusCode::CREATED, item);
    response.headers_mut().insert(header::LOCATION, format!("/api/items/{id}").parse().unwrap());
    response.headers_mut().insert("x-request-id", format!("req-{id}").parse().unwrap());
    response
}

async fn read_item(State(state): State<Arc<Items>>, Path(id): Path<String>) -> Response {
    let found = id.parse::<u64>().ok().and_then(|id| state.items.lock().unwrap().get(&id).cloned());
    match found {
        Some(item) => json_response(StatusCode::OK, item),
        None => json_response(StatusCode::NOT_FOUND, json!({"error": format!("no item {id}")})),
    }
}

async fn echo(method: Method, headers: HeaderMap, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let headers: serde_json::Map<String, Value> =
        headers.iter().map(|(n, v)| (n.to_string(), json!(String::from_utf8_lossy(v.as_bytes())))).collect();
    json_response(
        StatusCode::OK,
        json!({
            "method": method.as_str(),
            "query": query.unwrap_or_default(),
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        }),
    )
}

async fn login(State(state): State<Arc<Items>>, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    if form.get("user").is_none_or(String::is_empty) {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "user is required"}));
    }
    let token = format!("tok-{}-{}", form["user"], state.next.fetch_add(1, Ordering::SeqCst));
    state.tokens.lock().unwrap().push(token.clone());
    json_response(StatusCode::OK, json!({"token": token}))
}

async fn whoami(State(state): State<Arc<Items>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    if state.tokens.lock().unwrap().contains(&token) {
        json_response(StatusCode::OK, json!({"user": token.split('-').nth(1)}))
    } else {
        json_response(StatusCode::UNAUTHORIZED, json!({"error": "bad token"}))
    }
}

/// A TLS server with a fresh self-signed certificate for `localhost` and `127.0.0.1`.
pub struct TlsSite {
    pub addr: SocketAddr,
    /// The certificate, PEM: a CA file for `SSL_CERT_FILE`.
    pub cert_pem: String,
}

impl TlsSite {
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }
}

/// Serves `{"secure": true, "path": ...}` over TLS; offers `h2` and `http/1.1` via ALPN.
pub fn start_tls_site() -> TlsSite {
    use tokio_rustls::rustls;
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("self-signed certificate");
    let cert_pem = certified.cert.pem();
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let addr = crate::support::spawn_server(move |listener| async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                let service = hyper::service::service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let body = json!({"secure": true, "path": request.uri().path(), "version": format!("{:?}", request.version())});
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(http_body_util::Full::new(Bytes::from(body.to_string())))
                                .unwrap(),
                        )
                    },
                );
                let io = hyper_util::rt::TokioIo::new(tls);
                if h2 {
                    let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(io, service)
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                }
            });
        }
    });
    TlsSite { addr, cert_pem }
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
