//! What docs/deploy.md tells an operator to do, done: the systemd unit
//! passes `systemd-analyze verify`, and a `pg_dump` backup restores into an
//! empty database that a new panel then runs on.

use std::process::Command;

use crate::helpers::{invite, postgres, postgres::empty_database, spawn_app, spawn_app_with, Options, PASSWORD};

fn pg_tool(name: &str) -> String {
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .expect("Postgres is installed")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .expect("a Postgres version");
    format!("/usr/lib/postgresql/{newest}/bin/{name}")
}

/// A folder of the test's own, beside the other tests' scratch folders.
fn scratch_dir() -> std::path::PathBuf {
    let dir = postgres::scratch_dir(&format!("deploy-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(command: &mut Command) {
    let out = command.output().expect("the command starts");
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_systemd_unit_in_the_deploy_guide_verifies() {
    let dir = scratch_dir();
    let env_file = dir.join("panel.env");
    std::fs::write(&env_file, "BASE_URL=https://billing.example.com\n").unwrap();
    // The guide's unit, with the paths of this build instead of /usr/local.
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/deploy/panel.service"))
        .unwrap()
        .replace("/usr/local/bin/panel", env!("CARGO_BIN_EXE_panel"))
        .replace("/etc/panel/panel.env", env_file.to_str().unwrap());
    let path = dir.join("panel.service");
    std::fs::write(&path, unit).unwrap();
    run(Command::new("systemd-analyze").arg("verify").arg(&path));
}

#[tokio::test]
async fn a_pg_dump_backup_restores_into_an_empty_database_and_the_panel_runs_on_it() {
    let app = spawn_app().await;
    let owner = app.register("Olga Owner", "olga@example.com").await;
    invite(&owner, "dev@example.com", &["invoices"]).await;

    let dump = scratch_dir().join("panel.dump");
    run(Command::new(pg_tool("pg_dump")).arg("--format=custom").arg("--file").arg(&dump).arg(&app.db_url));
    let restored = empty_database().await;
    run(Command::new(pg_tool("pg_restore")).arg("--no-owner").arg("--dbname").arg(&restored).arg(&dump));

    let copy = spawn_app_with(Options { db_url: Some(restored), ..Options::default() }).await;
    let b = copy.browser();
    b.post_form("/login", &[("email", "olga@example.com"), ("password", PASSWORD)]).await.assert_redirect_to("/");
    let invitations = b.get("/users").await.texts("#invitations td");
    assert!(invitations.contains(&"dev@example.com".to_string()), "{invitations:?}");
}
