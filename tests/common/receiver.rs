//! A partner's webhook receiver: a real HTTP server on a loopback port that records what
//! arrives, can be taken down (connections refused) and brought back on the same port, and
//! verifies signatures the way a partner would, with its own HMAC.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

#[derive(Debug, Clone)]
pub struct Received {
    pub signature: String,
    pub event_id: String,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

pub struct Receiver {
    pub port: u16,
    pub log: Arc<Mutex<Vec<Received>>>,
    /// Milliseconds the receiver takes to answer, after recording what arrived.
    pub delay_ms: Arc<AtomicU64>,
    handle: Option<actix_web::dev::ServerHandle>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = Receiver {
            port,
            log: Arc::default(),
            delay_ms: Arc::default(),
            handle: None,
        };
        r.up();
        r
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Listens (again) on its port.
    pub fn up(&mut self) {
        let log = self.log.clone();
        let delay_ms = self.delay_ms.clone();
        let port = self.port;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    let log = log.clone();
                    let delay_ms = delay_ms.clone();
                    App::new().route(
                        "/hook",
                        web::post().to(move |req: HttpRequest, body: web::Bytes| {
                            let log = log.clone();
                            let delay = Duration::from_millis(delay_ms.load(Ordering::SeqCst));
                            async move {
                                let header = |name: &str| {
                                    req.headers()
                                        .get(name)
                                        .and_then(|v| v.to_str().ok())
                                        .unwrap_or_default()
                                        .to_string()
                                };
                                log.lock().unwrap().push(Received {
                                    signature: header("haven-signature"),
                                    event_id: header("haven-event-id"),
                                    body: String::from_utf8(body.to_vec()).unwrap(),
                                });
                                actix_web::rt::time::sleep(delay).await;
                                HttpResponse::NoContent().finish()
                            }
                        }),
                    )
                })
                .workers(1)
                .disable_signals()
                .bind(("127.0.0.1", port))
                .unwrap()
                .run();
                tx.send(server.handle()).unwrap();
                server.await
            })
        });
        self.handle = Some(rx.recv().unwrap());
    }

    /// Answers each delivery only after `ms` milliseconds.
    pub fn slow(&self, ms: u64) {
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Stops listening: deliveries now fail to connect.
    pub fn down(&mut self) {
        if let Some(h) = self.handle.take() {
            actix_web::rt::System::new().block_on(h.stop(false));
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what arrived, or panics after `seconds`.
    pub fn wait_for(&self, seconds: u64, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            assert!(
                std::time::Instant::now() < until,
                "timed out waiting for webhooks; got {}",
                got.len()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.down();
    }
}

/// Checks `Haven-Signature: t=<unix>,v1=<hex>` over `"<t>.<body>"` with `secret`, as a partner
/// would: its own HMAC, a constant-time comparison, and a five-minute window on `t`.
pub fn verify(secret: &str, header: &str, body: &str) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - t).abs() > 300 {
        return false;
    }
    let Ok(expected) = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(v1.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&expected).is_ok()
}
