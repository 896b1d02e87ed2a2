//! Database access: the pool, migrations and the embedded default cluster.

pub mod embedded;

use std::{
    borrow::Cow,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use sqlx::{postgres::PgPoolOptions, Connection, PgPool, Postgres, Transaction};

/// How long a pooled connection may sit unused before it is pinged again.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        // sqlx pings a connection both when it is handed out and when it
        // comes back: two extra round trips per checkout (a statement on
        // the pool, or a whole transaction). Under load a
        // connection comes back and goes out again within milliseconds, so
        // the first ping only tells what the second just told (issue 17:
        // +9 % on User Management and on sending invitations). One idle
        // for longer is still pinged, so a database restarted during a
        // quiet spell costs no request; one restarted under load can fail
        // the next request on each connection returned in that last second.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        // sqlx reports how long each connection took to get as a trace
        // event; `/metrics` counts them (telemetry::pool_waits), and they
        // cost nothing when no one listens.
        .acquire_time_level(log::LevelFilter::Trace)
        .connect(url)
        .await
}

/// The bounds on one transaction's database time (`DB_STATEMENT_TIMEOUT_MS`,
/// `DB_LOCK_TIMEOUT_MS`), set once at start from the configuration. One
/// value for the whole process (the last `App` built sets it): the tests,
/// which build many apps in one process, leave both at their defaults.
static STATEMENT_TIMEOUT_MS: AtomicU64 = AtomicU64::new(10_000);
static LOCK_TIMEOUT_MS: AtomicU64 = AtomicU64::new(3_000);

/// Sets the bounds every transaction begins with (see `begin`).
pub fn set_transaction_limits(statement: Duration, lock: Duration) {
    STATEMENT_TIMEOUT_MS.store(statement.as_millis() as u64, Ordering::Relaxed);
    LOCK_TIMEOUT_MS.store(lock.as_millis() as u64, Ordering::Relaxed);
}

/// `BEGIN` with this transaction's bounds, sent as one simple query (one
/// round trip). `SET LOCAL` ends with the transaction, so it holds behind a
/// pooler in transaction mode too. A statement that runs too long, or
/// waits too long for a lock, fails (57014, 55P03) and the request answers
/// "busy, try again" (`error.rs`): one account's queue of writers can hold
/// a pooled connection for at most this long.
fn begin_statement() -> Cow<'static, str> {
    Cow::Owned(format!(
        "BEGIN; SET LOCAL statement_timeout = {}; SET LOCAL lock_timeout = {}",
        STATEMENT_TIMEOUT_MS.load(Ordering::Relaxed),
        LOCK_TIMEOUT_MS.load(Ordering::Relaxed)
    ))
}

/// Starts a transaction on a pooled connection; use this, never sqlx's own
/// `begin` (clippy.toml refuses those).
///
/// sqlx 0.8.6 counts a transaction as open only once the server has answered
/// its `BEGIN`. A request dropped while that answer is on its way (a client
/// that hangs up, the 30 s request timeout) leaves the session inside a
/// transaction nothing will end, and the pool hands it to the next request,
/// whose statements then run in it and keep their row locks (seen in the
/// bench: one API call's count held the token's row for seconds while every
/// other call of the token waited; transact-rs/sqlx#4393, fixed in sqlx
/// 0.9.1). Run as a task of its own, the `BEGIN` always completes: if the
/// caller is gone by then, the transaction is dropped there and rolled back
/// like any other. Waiting for the connection is safe to abandon, so it
/// stays with the caller: a request given up does not hold a place in the
/// pool's queue.
pub async fn begin(db: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let conn = db.acquire().await?;
    // What `Pool::begin` does after its acquire (sqlx-core 0.8.6).
    #[allow(clippy::disallowed_methods)]
    let begun = tokio::spawn(Transaction::begin(conn, Some(begin_statement()))).await;
    match begun {
        Ok(tx) => tx,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only when the runtime shuts down.
        Err(_) => Err(sqlx::Error::WorkerCrashed),
    }
}

/// Creates `database` on the server behind `admin_url` unless it exists.
pub async fn ensure_database(admin_url: &str, database: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(database)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        // Identifiers cannot be bound; the name is ours, never a user's.
        sqlx::query(&format!("CREATE DATABASE \"{database}\"")).execute(&mut conn).await?;
    }
    Ok(())
}

/// The pool the product runs on: `DATABASE_URL`, or the embedded cluster
/// (started here, and returned so the caller stops it on shutdown).
pub async fn open(config: &crate::config::Config) -> anyhow::Result<(PgPool, Option<embedded::EmbeddedPostgres>)> {
    match &config.database_url {
        Some(url) => Ok((connect(url, config.db_max_connections).await?, None)),
        None => {
            let dir = config.data_dir.clone();
            let pg = tokio::task::spawn_blocking(move || embedded::EmbeddedPostgres::start(&dir)).await??;
            ensure_database(&pg.url("postgres"), "panel").await?;
            let pool = connect(&pg.url("panel"), config.db_max_connections).await?;
            Ok((pool, Some(pg)))
        }
    }
}
