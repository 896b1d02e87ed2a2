//! The HTTP server's accept loop. `axum::serve` keeps a connection open
//! for as long as the client likes, and accepts until the process runs out
//! of file descriptors ("Too many open files": then nobody is served).
//! Here every connection must send its request headers within
//! `HEADER_READ_TIMEOUT_SECS` (also the longest a kept-alive connection may
//! sit idle), at most `MAX_CONNECTIONS` are open at once, and one past the
//! cap gets a quick 503 and is closed. The process's soft file limit is
//! raised to the hard one at start and the default cap sized below it.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{
    extract::{ConnectInfo, Request},
    Router,
};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tower::ServiceExt;

pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

/// File descriptors kept back from connections: the database pool, mail
/// and webhook connections, static files, the metrics listener.
const RESERVED_FILES: u64 = 256;
/// The default cap never exceeds this, whatever the file limit.
const DEFAULT_CAP_CEILING: u64 = 16_384;
/// Connections past the cap answered at once; more are closed unanswered.
const REFUSALS_AT_ONCE: usize = 256;
/// How long in-flight requests may finish after a stop is asked for.
const DRAIN: Duration = Duration::from_secs(30);

/// The answer to a connection past the cap, written before it is closed.
fn busy_answer() -> Vec<u8> {
    let body = "The panel is very busy right now. Please try again in a moment.\n";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 5\r\n\
         connection: close\r\ncache-control: no-store\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The cap to use: the configured one, or one sized below the file limit.
pub fn connection_cap(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    let files = raise_file_limit();
    files.saturating_sub(RESERVED_FILES).clamp(64, DEFAULT_CAP_CEILING) as usize
}

/// Raises the soft limit on open files to the hard one; the soft limit in
/// force afterwards.
#[allow(unsafe_code)]
fn raise_file_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write only the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open
/// requests finish (for at most `DRAIN`).
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: impl Future<Output = ()>) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let busy: Arc<[u8]> = busy_answer().into();
    let refusing = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or the client left before the
                    // accept: wait a moment rather than spin.
                    metrics::counter!("panel_accept_errors_total").increment(1);
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            metrics::counter!("panel_connection_cap_refusals_total").increment(1);
            // Answered while few are being answered; past that, just closed.
            if let Ok(slot) = refusing.clone().try_acquire_owned() {
                tokio::spawn(refuse(stream, busy.clone(), slot));
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(addr));
            req
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            // Errors here are the client's (reset, slow headers): nothing to report.
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!("stopped with requests still open after {DRAIN:?}");
    }
}

/// Tells a connection past the cap to come back later. The request's head
/// is read first (clients take an answer before their request as an
/// error), and what follows is read and dropped for a moment after the
/// answer: closing with unread data would reset the connection and lose it.
async fn refuse(mut stream: tokio::net::TcpStream, busy: Arc<[u8]>, _slot: OwnedSemaphorePermit) {
    let answered = async {
        let mut head = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        stream.write_all(&busy).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_millis(1500), answered).await;
}
