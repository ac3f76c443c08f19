//! A real SMTP server (mailin-embedded) on a free loopback port, whose replies the test steers:
//! accept everything, answer 421 (try again later) to every recipient, and always refuse
//! recipients whose address starts with `reject` with 550.

use std::{
    net::{SocketAddr, TcpListener},
    sync::{Arc, Mutex},
};

use mailin_embedded::{Handler, Response, Server, response};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// Every RCPT is answered `421 try again later` (and the connection closed).
    TempFail,
}

/// One message as the server received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    mode: Option<Mode>,
    received: Vec<Received>,
    rcpt_replies: Vec<u16>,
}

#[derive(Clone)]
struct SmtpHandler {
    shared: Arc<Mutex<Shared>>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for SmtpHandler {
    fn rcpt(&mut self, to: &str) -> Response {
        let mut s = self.shared.lock().unwrap();
        let (code, reply) = if to.starts_with("reject") {
            (550, response::NO_MAILBOX)
        } else if s.mode == Some(Mode::TempFail) {
            (
                421,
                Response::custom(421, "Service busy, try again later".to_string()),
            )
        } else {
            (250, response::OK)
        };
        s.rcpt_replies.push(code);
        reply
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_string();
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.shared.lock().unwrap().received.push(Received {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
        });
        response::OK
    }
}

/// The server; until [`SmtpServer::start`] nothing listens on its port (connections are refused).
pub struct SmtpServer {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl SmtpServer {
    /// Picks a free port without listening on it yet.
    pub fn reserve() -> Self {
        let probe = TcpListener::bind("127.0.0.1:0").expect("free port");
        let addr = probe.local_addr().unwrap();
        drop(probe);
        Self {
            addr,
            shared: Arc::new(Mutex::new(Shared::default())),
        }
    }

    /// A server already accepting mail.
    pub fn start_new() -> Self {
        let s = Self::reserve();
        s.start(Mode::Accept);
        s
    }

    /// Starts listening (once) in `mode`.
    pub fn start(&self, mode: Mode) {
        let listener = TcpListener::bind(self.addr).expect("bind the reserved SMTP port");
        self.shared.lock().unwrap().mode = Some(mode);
        let handler = SmtpHandler {
            shared: self.shared.clone(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = Server::new(handler);
        server
            .with_name("mx.test")
            .with_num_threads(8)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
    }

    pub fn set_mode(&self, mode: Mode) {
        self.shared.lock().unwrap().mode = Some(mode);
    }

    /// `SMTP_URL` for this server.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }

    /// Reply codes given to RCPT commands so far.
    pub fn rcpt_replies(&self) -> Vec<u16> {
        self.shared.lock().unwrap().rcpt_replies.clone()
    }
}
