//! A webhook receiver: a real HTTP server on a port that records every request and answers
//! from a script (then with its default answer).

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use poem::{
    EndpointExt, Request, Response, Route, Server, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    web::Data,
};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

/// How the receiver answers.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16, String),
    /// Never answers (until the client gives up).
    Hang,
    /// 302 to this location.
    Redirect(String),
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

#[handler]
async fn receive(req: &Request, body: String, shared: Data<&Arc<Shared>>) -> Response {
    let h = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    shared.received.lock().unwrap().push(Received {
        path: req.uri().path().to_string(),
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
        body,
    });
    let reply = shared
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| shared.default.lock().unwrap().clone())
        .unwrap_or(Reply::Status(200, "ok".into()));
    match reply {
        Reply::Status(s, body) => Response::builder()
            .status(StatusCode::from_u16(s).unwrap())
            .body(body),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Response::builder().status(StatusCode::OK).body("late")
        }
        Reply::Redirect(to) => Response::builder()
            .status(StatusCode::FOUND)
            .header("location", to)
            .body(""),
    }
}

impl Receiver {
    /// Starts on a free port.
    pub async fn start() -> Self {
        Self::start_at("127.0.0.1:0").await
    }

    /// Starts on `addr` (for a receiver that comes back on its old port).
    pub async fn start_at(addr: &str) -> Self {
        let shared = Arc::new(Shared::default());
        let acceptor = TcpListener::bind(addr.to_string())
            .into_acceptor()
            .await
            .expect("bind the receiver");
        let addr = *acceptor.local_addr()[0].as_socket_addr().expect("tcp");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = Route::new().at("/*path", receive).data(shared.clone());
        tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    async {
                        let _ = rx.await;
                    },
                    Some(Duration::from_millis(100)),
                )
                .await;
        });
        Self {
            addr,
            shared,
            stop: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers these first, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().unwrap().extend(replies);
    }

    /// Answers this once the script is used up (200 by default).
    pub fn always(&self, reply: Reply) {
        *self.shared.default.lock().unwrap() = Some(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Stops listening.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Verifies a Standard Webhooks signature header independently of the server's code: true
/// when one of its `v1,` signatures is the HMAC-SHA256 of `{id}.{timestamp}.{body}` under the
/// base64 key of `secret`.
pub fn verify(secret: &str, r: &Received) -> bool {
    use base64::{Engine, engine::general_purpose::STANDARD};
    use hmac::{Hmac, Mac};
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("base64 key");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.signature.split(' ').any(|s| s == expected)
}
