//! The embedded default: a private Postgres cluster started from the
//! machine's own Postgres binaries, reachable only through a Unix socket in a
//! directory that only its owner can enter.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context};

pub const INSTALL_HINT: &str =
    "PostgreSQL is not installed: run `sudo apt-get install -y postgresql` (or set DATABASE_URL)";

pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    as_postgres_user: bool,
    /// Whether this process started the cluster (and so stops it). A
    /// `seed-demo` run beside a running server must not stop its database.
    started_here: bool,
}

impl EmbeddedPostgres {
    /// Starts (creating on first use) the cluster under `root`. A cluster
    /// left running by a process that died is reused, not started twice.
    pub fn start(root: &Path) -> anyhow::Result<EmbeddedPostgres> {
        let bin_dir = find_bin_dir().context(INSTALL_HINT)?;
        std::fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
        let mut root = root.canonicalize()?;
        let as_postgres_user = running_as_root();
        if as_postgres_user && !postgres_can_enter(&root) {
            // A checkout in a private folder (such as a fresh `mktemp -d`):
            // keep this checkout's cluster in a folder of its own that the
            // postgres user can reach, so the quick start still needs no
            // configuration.
            let id = crate::domain::token::hash(&root.to_string_lossy());
            let fallback =
                std::env::temp_dir().join(format!("panel-data-{:02x}{:02x}{:02x}{:02x}", id[0], id[1], id[2], id[3]));
            std::fs::create_dir_all(&fallback)?;
            tracing::warn!(
                "the postgres user cannot enter {}; keeping the database in {}",
                root.display(),
                fallback.display()
            );
            root = fallback;
            if !postgres_can_enter(&root) {
                bail!(
                    "the postgres user cannot enter {}: set PANEL_DATA_DIR to a folder it can reach, such as /var/tmp/panel",
                    root.display()
                );
            }
        }
        let mut pg = EmbeddedPostgres {
            bin_dir,
            data_dir: root.join("pg"),
            socket_dir: root.join("sock"),
            // initdb refuses to run as root; the Debian package provides this user.
            as_postgres_user,
            started_here: false,
        };
        if !pg.data_dir.join("PG_VERSION").exists() {
            pg.init()?;
        }
        std::fs::create_dir_all(&pg.socket_dir)?;
        pg.give_to_postgres(&pg.socket_dir)?;
        if !pg.is_running() {
            let log = pg.data_dir.join("server.log");
            let opts = format!(
                "-c listen_addresses='' -k {} -c max_connections=300 -c shared_buffers=128MB",
                pg.socket_dir.display()
            );
            pg.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    pg.data_dir.as_os_str(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-w".as_ref(),
                    "-o".as_ref(),
                    opts.as_ref(),
                    "start".as_ref(),
                ],
            )
            .with_context(|| format!("Postgres did not start; see {}", log.display()))?;
            pg.started_here = true;
        }
        Ok(pg)
    }

    /// A connection URL for `database` over the private socket.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@localhost/{database}?host={}", self.socket_dir.display())
    }

    /// Stops the cluster if this process started it.
    pub fn stop(&self) {
        if !self.started_here {
            return;
        }
        let _ = self.run(
            "pg_ctl",
            &["-D".as_ref(), self.data_dir.as_os_str(), "-m".as_ref(), "fast".as_ref(), "-w".as_ref(), "stop".as_ref()],
        );
    }

    /// Stops the server at once (whoever started it), for test clusters
    /// thrown away afterwards.
    pub fn stop_immediately(&self) {
        let _ = self.run(
            "pg_ctl",
            &["-D".as_ref(), self.data_dir.as_os_str(), "-m".as_ref(), "immediate".as_ref(), "stop".as_ref()],
        );
    }

    fn init(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)?;
        self.give_to_postgres(&self.data_dir)?;
        self.run(
            "initdb",
            &[
                "-D".as_ref(),
                self.data_dir.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth=trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        )
        .context("initdb failed")
    }

    fn is_running(&self) -> bool {
        self.data_dir.join("postmaster.pid").exists()
            && self.run("pg_ctl", &["-D".as_ref(), self.data_dir.as_os_str(), "status".as_ref()]).is_ok()
    }

    fn give_to_postgres(&self, dir: &Path) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        if self.as_postgres_user {
            let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir).status()?;
            if !status.success() {
                bail!("cannot hand {} to the postgres user", dir.display());
            }
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        Ok(())
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
        let exe = self.bin_dir.join(program);
        let mut cmd = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).stdin(std::process::Stdio::null()).output()?;
        if !out.status.success() {
            bail!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

/// As root the cluster runs as `postgres`, which must be able to enter its
/// folder and every folder above it.
fn postgres_can_enter(dir: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
fn find_bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// initdb refuses to run as root, so as root the cluster runs as `postgres`.
#[allow(unsafe_code)]
fn running_as_root() -> bool {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}
