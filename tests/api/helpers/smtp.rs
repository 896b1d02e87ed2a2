//! A real SMTP server on loopback that keeps what it receives, so tests
//! read the mail the app actually delivered.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

#[derive(Clone, Debug)]
pub struct ReceivedMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Clone)]
pub struct MailSink {
    port: u16,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    /// Connections a mute server accepted and keeps open without a word.
    held: Arc<Mutex<Vec<tokio::net::TcpStream>>>,
    /// The mute server's listener, until it hangs up.
    mute: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// The listener and its sessions, until `stop`.
    serving: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl MailSink {
    pub async fn start() -> MailSink {
        let sink = MailSink::reserve().await;
        sink.come_up().await;
        sink
    }

    /// Picks a port but does not listen yet: connections are refused until
    /// `come_up`.
    pub async fn reserve() -> MailSink {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        MailSink { port, received: Arc::default(), held: Arc::default(), mute: Arc::default(), serving: Arc::default() }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn come_up(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        let received = self.received.clone();
        let serving = self.serving.clone();
        let listening = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let session = tokio::spawn(serve(stream, received.clone()));
                serving.lock().unwrap().push(session);
            }
        });
        self.serving.lock().unwrap().push(listening);
    }

    /// The mail server goes away: it stops listening and drops every
    /// session, a mail half sent included (the soak drill).
    pub fn stop(&self) {
        for task in self.serving.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Listens as a mail server that accepts connections and never answers
    /// (the slow mail server drills), instead of `come_up`.
    pub async fn come_up_mute(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        let held = self.held.clone();
        let listening = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                held.lock().unwrap().push(stream);
            }
        });
        *self.mute.lock().unwrap() = Some(listening);
    }

    /// Waits (up to 10 s) until the mute server holds a connection.
    pub async fn wait_held(&self) {
        for _ in 0..200 {
            if !self.held.lock().unwrap().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("nobody connected to the mute mail server");
    }

    /// The mute server hangs up on everyone it held and stops listening:
    /// later connections are refused.
    pub fn hang_up(&self) {
        if let Some(listening) = self.mute.lock().unwrap().take() {
            listening.abort();
        }
        self.held.lock().unwrap().clear();
    }

    pub fn all(&self) -> Vec<ReceivedMail> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (up to 10 s, for the background worker) for a mail to `to`
    /// whose subject contains `subject`.
    pub async fn wait_for(&self, to: &str, subject: &str) -> ReceivedMail {
        for _ in 0..200 {
            if let Some(m) = self.all().into_iter().find(|m| m.to == to && m.subject.contains(subject)) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail to {to} about {subject:?}; received: {:#?}", self.all());
    }
}

async fn serve(stream: tokio::net::TcpStream, received: Arc<Mutex<Vec<ReceivedMail>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 localhost test SMTP\r\n").await;
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 localhost\r\n",
            "DATA" => {
                let _ = write.write_all(b"354 go ahead\r\n").await;
                let mut raw = String::new();
                let mut complete = false;
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        complete = true;
                        break;
                    }
                    raw.push_str(l.strip_prefix('.').unwrap_or(&l));
                    raw.push_str("\r\n");
                }
                // A connection lost before the final "." delivered nothing,
                // as with a real mail server.
                if !complete {
                    return;
                }
                received.lock().unwrap().push(parse(&raw));
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"250 ok\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

fn parse(raw: &str) -> ReceivedMail {
    let msg = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("a parsable mail");
    ReceivedMail {
        to: msg.to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or("").to_string(),
        subject: msg.subject().unwrap_or("").to_string(),
        text: msg.body_text(0).map(|t| t.to_string()).unwrap_or_default(),
        html: msg.body_html(0).map(|t| t.to_string()).unwrap_or_default(),
    }
}
