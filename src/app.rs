//! Building the application: state, routes, layers, the mail worker, and
//! a bound listener whose port tests can read.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{MatchedPath, Request},
    http::{header, HeaderName, HeaderValue, StatusCode},
    middleware, Router,
};
use sqlx::PgPool;
use tokio::{
    net::TcpListener,
    sync::{watch, Notify},
};
use tower_http::{
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    services::ServeDir,
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{
    accounts, addresses, admin, api, auth, config::Config, dev_mailbox, domain::audit::AuditAction, error, error_pages,
    health, invitations, mail, sections, security, state::AppState, tokens, users, web, webhooks,
};

/// The largest form we accept; every form in the panel is far smaller.
pub const BODY_LIMIT: usize = 64 * 1024;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

pub fn router(state: AppState) -> Router {
    web::assets::settle(&state.config.static_dir);
    let x_request_id = HeaderName::from_static("x-request-id");
    let pages = Router::new()
        .merge(accounts::router())
        .merge(addresses::router())
        .merge(admin::router())
        .merge(auth::router())
        .merge(dev_mailbox::router())
        .merge(invitations::router())
        .merge(security::router())
        .merge(users::router())
        .merge(tokens::router())
        .merge(webhooks::router())
        .merge(sections::router(&state))
        .merge(sections::services::control_panel_router(&state.config))
        .layer(middleware::from_fn_with_state(state.clone(), auth::csrf::ensure_anon_cookie));
    let routes = Router::new()
        .merge(pages)
        .merge(api::router())
        .merge(health::router())
        .nest_service(
            "/static",
            tower::ServiceBuilder::new()
                .layer(middleware::from_fn(web::assets::cache_control))
                .service(ServeDir::new(&state.config.static_dir).precompressed_gzip()),
        )
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(state.clone());
    // Counted only when someone collects the counts.
    let routes = match state.config.metrics_addr {
        Some(_) => routes.layer(middleware::from_fn(crate::telemetry::track)),
        None => routes,
    };
    routes
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        // Outside the limits, so their bare 408/413 answers become pages too.
        .layer(middleware::from_fn(error::render_errors))
        // Outside that, so every error page gets the signed-in person's frame.
        .layer(middleware::from_fn_with_state(state.clone(), error_pages::with_layout))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                // The matched route, never the raw path: paths can hold tokens.
                let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), route = route.as_deref().unwrap_or("(unmatched)"), request_id = %id)
            })
            .on_request(())
            .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(tower_http::compression::CompressionLayer::new())
        // Pages show private data: keep them out of shared and back-button caches.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // Before anything else looks at the request.
        .layer(middleware::from_fn_with_state(state.clone(), web::host::require_known_host))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
}

pub struct App {
    listener: TcpListener,
    /// `/metrics`, when METRICS_ADDR is set.
    metrics: Option<std::net::TcpListener>,
    state: AppState,
    stop_tx: watch::Sender<bool>,
}

impl App {
    /// Binds the listener (port 0 picks a free port) over a ready pool.
    /// With METRICS_ADDR, binds that too.
    pub async fn build(config: Config, db: PgPool) -> anyhow::Result<App> {
        let listener = TcpListener::bind(config.listen_addr).await?;
        let metrics_addr = config.metrics_addr;
        let mut app = App::with_listener(config, db, listener);
        if let Some(addr) = metrics_addr {
            let metrics = std::net::TcpListener::bind(addr)
                .map_err(|e| anyhow::anyhow!("cannot listen on METRICS_ADDR {addr}: {e}"))?;
            app = app.with_metrics(metrics);
        }
        Ok(app)
    }

    /// Serves `/metrics` on `listener` (tests bind their own port), and
    /// starts recording from now on.
    pub fn with_metrics(mut self, listener: std::net::TcpListener) -> App {
        crate::telemetry::install();
        self.metrics = Some(listener);
        self
    }

    /// For callers that bound the port themselves (tests put it in BASE_URL).
    pub fn with_listener(config: Config, db: PgPool, listener: TcpListener) -> App {
        crate::db::set_transaction_limits(config.statement_timeout, config.lock_timeout);
        let state = AppState {
            db,
            webauthn: security::webauthn::relying_party(&config.base_url).map(Arc::new),
            hasher: crate::hashing::Hasher::new(config.hash_concurrency),
            config: Arc::new(config),
            mail_wakeup: Arc::new(Notify::new()),
            webhook_wakeup: Arc::new(Notify::new()),
            detached: Arc::new(tokio::sync::Semaphore::new(crate::state::DETACHED_AT_ONCE)),
            writes: Arc::default(),
        };
        let (stop_tx, _) = watch::channel(false);
        App { listener, metrics: None, state, stop_tx }
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes; then lets in-flight requests
    /// finish, and the mail and webhook workers their current tries (for
    /// at most `delivery::STOP_GRACE`).
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let worker = tokio::spawn(mail::worker::run(
            self.state.db.clone(),
            self.state.config.clone(),
            self.state.mail_wakeup.clone(),
            self.stop_tx.subscribe(),
        ));
        let webhooks = tokio::spawn(webhooks::deliver::run(
            self.state.db.clone(),
            self.state.config.clone(),
            self.state.webhook_wakeup.clone(),
            self.stop_tx.subscribe(),
        ));
        let janitor = tokio::spawn(janitor(self.state.clone(), self.stop_tx.subscribe()));
        let metrics = match self.metrics {
            Some(listener) => {
                listener.set_nonblocking(true)?;
                let listener = TcpListener::from_std(listener)?;
                let mut stop = self.stop_tx.subscribe();
                let metrics = crate::telemetry::router(self.state.clone());
                Some(tokio::spawn(async move {
                    axum::serve(listener, metrics)
                        .with_graceful_shutdown(async move {
                            let _ = stop.changed().await;
                        })
                        .await
                }))
            }
            None => None,
        };
        let app = router(self.state.clone());
        let limits = web::serve::Limits {
            max_connections: web::serve::connection_cap(self.state.config.max_connections),
            header_read_timeout: self.state.config.header_read_timeout,
        };
        tracing::info!(max_connections = limits.max_connections, "accepting connections");
        // The workers are told at once, not after the requests drain: their
        // grace runs alongside the requests' last moments.
        let stop_tx = self.stop_tx.clone();
        let shutdown = async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        };
        web::serve::serve(self.listener, app, limits, shutdown).await;
        let _ = self.stop_tx.send(true);
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        let _ = worker.await;
        let _ = webhooks.await;
        let _ = janitor.await;
        Ok(())
    }
}

/// Deletes what has expired: sessions past their timeouts (a support view
/// that expires is recorded as ended, as one signed out is), old sign-in
/// and registration attempts; records invitations that expired unanswered;
/// mails about access that ends on a date. Harmless to run on several copies at once.
async fn janitor(state: AppState, mut stop: watch::Receiver<bool>) {
    let db = &state.db;
    loop {
        let result = sqlx::query!(
            r#"WITH gone AS (
                   DELETE FROM sessions
                   WHERE last_seen_at < now() - make_interval(mins => $1) OR created_at < now() - make_interval(hours => $2)
                   RETURNING user_id, active_account_id, impersonator_id
               ), ended AS (
                   INSERT INTO audit_events (actor_id, account_id, target_user_id, target_email, action, details)
                   SELECT g.impersonator_id, g.active_account_id, g.user_id, u.email, $3, '{"by": "expiry"}'
                   FROM gone g JOIN users u ON u.id = g.user_id WHERE g.impersonator_id IS NOT NULL
               ), registrations AS (
                   DELETE FROM registration_attempts WHERE at < now() - interval '1 day'
               )
               DELETE FROM sign_in_attempts WHERE at < now() - interval '1 day'"#,
            auth::session::IDLE_TIMEOUT_MINUTES as i32,
            auth::session::ABSOLUTE_TIMEOUT_HOURS as i32,
            AuditAction::SupportViewEnded.code()
        )
        .execute(db)
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "janitor could not clean up");
        }
        match invitations::expiry::note_expired(db).await {
            Ok(0) => {}
            Ok(_) => state.wake_outboxes(),
            Err(e) => tracing::warn!(error = %e, "janitor could not record expired invitations"),
        }
        match users::endings::mail_due(db, state.config.clock.now()).await {
            Ok(0) => {}
            Ok(_) => state.wake_outboxes(),
            Err(e) => tracing::warn!(error = %e, "janitor could not mail about access that ends"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
            _ = stop.changed() => return,
        }
    }
}
