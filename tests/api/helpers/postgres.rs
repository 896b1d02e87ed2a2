//! One private Postgres cluster for the whole test run (the product's own
//! embedded-cluster code), a migrated template database, and a fresh copy of
//! it for every test. The cluster and its folder go away when the run ends.

use std::{path::PathBuf, sync::OnceLock};

use panel::db::embedded::EmbeddedPostgres;
use sqlx::Connection;

struct Cluster {
    pg: EmbeddedPostgres,
    root: PathBuf,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
const TEMPLATE: &str = "panel_template";

extern "C" fn stop_cluster() {
    if let Some(c) = CLUSTER.get() {
        c.pg.stop_immediately();
        let _ = std::fs::remove_dir_all(&c.root);
    }
}

fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        let base = scratch_dir("test-pg");
        remove_stale_runs(&base);
        let root = base.join(format!("run-{}", std::process::id()));
        let pg = EmbeddedPostgres::start(&root).expect("test Postgres cluster starts");
        // Build the migrated template on a runtime of its own: this may be
        // called from inside any test's runtime.
        let admin = pg.url("postgres");
        let template = pg.url(TEMPLATE);
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
                panel::db::ensure_database(&admin, TEMPLATE).await.unwrap();
                let pool = panel::db::connect(&template, 1).await.unwrap();
                panel::db::MIGRATOR.run(&pool).await.expect("migrations apply");
                pool.close().await;
            });
        })
        .join()
        .expect("template database is built");
        // SAFETY: stop_cluster is a plain extern "C" fn that lives for the whole
        // process; registering it hands over no memory.
        #[allow(unsafe_code)]
        unsafe {
            libc::atexit(stop_cluster)
        };
        Cluster { pg, root }
    })
}

/// Clusters of earlier runs that were killed before they could clean up.
fn remove_stale_runs(base: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(pid) = name.strip_prefix("run-") else { continue };
        if !PathBuf::from(format!("/proc/{pid}")).exists() {
            if let Ok(pid_file) = std::fs::read_to_string(e.path().join("pg/postmaster.pid")) {
                if let Some(pg_pid) = pid_file.lines().next().and_then(|l| l.trim().parse::<i32>().ok()) {
                    // SAFETY: kill only sends a signal to a pid; no memory is involved.
                    #[allow(unsafe_code)]
                    unsafe {
                        libc::kill(pg_pid, libc::SIGQUIT)
                    };
                }
            }
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A new database, copied from the migrated template; returns its URL.
pub async fn fresh_database() -> String {
    create_database("t", &format!("TEMPLATE {TEMPLATE}")).await
}

/// A database with nothing in it, not even migrations (an install that
/// has not run `panel migrate` yet).
pub async fn empty_database() -> String {
    create_database("e", "").await
}

/// Creates a uniquely named database in the shared cluster (`options`:
/// our own fixed text); returns its URL.
async fn create_database(prefix: &str, options: &str) -> String {
    let c = cluster();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&c.pg.url("postgres")).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name} {options}")).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    c.pg.url(&name)
}

/// A cluster of a drill's own (to stop and start under a running app),
/// with the migrated database `panel`. Returns it, its folder and the URL.
pub async fn private_cluster() -> (EmbeddedPostgres, PathBuf, String) {
    let root = scratch_dir(&format!("drill-{}", uuid::Uuid::new_v4().simple()));
    let dir = root.clone();
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&dir))
        .await
        .unwrap()
        .expect("drill cluster starts");
    panel::db::ensure_database(&pg.url("postgres"), "panel").await.unwrap();
    let url = pg.url("panel");
    let pool = panel::db::connect(&url, 1).await.unwrap();
    panel::db::MIGRATOR.run(&pool).await.unwrap();
    pool.close().await;
    (pg, root, url)
}

/// A folder for a test cluster under the system's temporary folder: as
/// root the cluster runs as the `postgres` user, which must be able to
/// enter every folder above it, and a checkout may sit in a private one
/// (CI clones into a fresh `mktemp -d`, mode 0700).
pub fn scratch_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join("panel-tests").join(name)
}
