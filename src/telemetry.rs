//! `/metrics` in Prometheus text format, on its own listener
//! (`METRICS_ADDR`, off by default) so it is never reachable through the
//! public address. Counters and histograms are recorded where things
//! happen (requests here, mail in the worker, refusals where they are
//! made); what is a level rather than an event (the pool, the outbox, the
//! hashing queue, sessions) is read when Prometheus scrapes.
//!
//! Labels are routes and status codes only: never a path (paths can hold
//! tokens), an address or an email.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Request latency buckets, in seconds: pages answer in milliseconds,
/// sign-ins (argon2id) in about half a second.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use: from then on the
/// `metrics` macros everywhere record into it (before, they do nothing).
/// Once per process, because tests start several apps in one.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder =
            PrometheusBuilder::new().set_buckets(BUCKETS).expect("the bucket list is not empty").build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first; there is none.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Counts each request by route and status, and times it by route.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("(unmatched)", |p| p.as_str()).to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        metrics::counter!("panel_rate_limit_refusals_total", "route" => route.clone()).increment(1);
    }
    metrics::histogram!("panel_http_request_duration_seconds", "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("panel_http_requests_total", "route" => route, "status" => status).increment(1);
    response
}

/// How long each request for a database connection waited, from the
/// trace event sqlx emits on every acquire (`db::connect` turns it on):
/// `panel_db_acquire_wait_seconds`. sqlx keeps no count of waiters, so
/// this histogram is what shows a pool too small: its upper buckets fill.
pub fn pool_waits<S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>>(
) -> impl tracing_subscriber::Layer<S> {
    use tracing_subscriber::Layer as _;
    PoolWaits.with_filter(
        tracing_subscriber::filter::Targets::new().with_target("sqlx::pool::acquire", tracing::Level::TRACE),
    )
}

struct PoolWaits;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for PoolWaits {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Waited(Option<f64>);
        impl tracing::field::Visit for Waited {
            fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
                // sqlx's own spelling.
                if field.name() == "aquired_after_secs" {
                    self.0 = Some(value);
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        let mut waited = Waited(None);
        event.record(&mut waited);
        if let Some(seconds) = waited.0 {
            metrics::histogram!("panel_db_acquire_wait_seconds").record(seconds);
        }
    }
}

/// The metrics listener's one route.
pub fn router(state: AppState) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(state)
}

async fn scrape(State(state): State<AppState>) -> Response {
    let pool = &state.db;
    let idle = pool.num_idle() as f64;
    metrics::gauge!("panel_db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("panel_db_pool_connections", "state" => "in_use").set(f64::from(pool.size()) - idle);
    metrics::gauge!("panel_db_pool_max_connections").set(f64::from(pool.options().get_max_connections()));
    metrics::gauge!("panel_hashing_queue_depth").set(state.hasher.queued() as f64);
    let levels = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM mail_outbox WHERE status = 'pending') AS "outbox!",
                  (SELECT extract(epoch FROM now() - min(created_at))::float8 FROM mail_outbox WHERE status = 'pending') AS oldest,
                  (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS "webhooks!",
                  (SELECT count(*) FROM sessions) AS "sessions!""#
    )
    .fetch_one(pool)
    .await;
    match levels {
        Ok(l) => {
            metrics::gauge!("panel_db_up").set(1.0);
            metrics::gauge!("panel_mail_outbox_pending").set(l.outbox as f64);
            metrics::gauge!("panel_mail_outbox_oldest_pending_seconds").set(l.oldest.unwrap_or(0.0));
            metrics::gauge!("panel_webhook_deliveries_pending").set(l.webhooks as f64);
            metrics::gauge!("panel_sessions_active").set(l.sessions as f64);
        }
        // The rest of the page still tells the operator something.
        Err(e) => {
            tracing::warn!(error = %e, "metrics could not read the database");
            metrics::gauge!("panel_db_up").set(0.0);
        }
    }
    let handle = install();
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}
