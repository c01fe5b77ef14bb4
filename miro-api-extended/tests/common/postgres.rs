//! A throwaway PostgreSQL server for the tests, started from the system's binaries in a
//! temporary folder (as the `postgres` user when the tests run as root, since `initdb` and
//! `postgres` refuse root). Without the binaries the tests fail and say so.

use std::path::PathBuf;
use std::process::Command;

pub struct Server {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

/// The folder holding `initdb` and `pg_ctl`: Debian's `/usr/lib/postgresql/N/bin` (newest),
/// else `pg_config --bindir`, else the `PATH`.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if bin.join("initdb").exists() {
            return Some(bin);
        }
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl Server {
    /// Starts a server on a free port of 127.0.0.1 (trust authentication, fsync off: a test
    /// server), or panics with what is missing.
    pub async fn start() -> Server {
        tokio::task::spawn_blocking(Server::start_blocking)
            .await
            .expect("the PostgreSQL start task")
    }

    fn start_blocking() -> Server {
        let bin = bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin, \
                 pg_config --bindir or PATH: install them (Debian: apt-get install postgresql; \
                 `cargo xtask test` does it as root) to run the PostgreSQL token store tests"
            )
        });
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("miro-pg-")
            .tempdir()
            .expect("a temporary folder");
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(
                status.success(),
                "chown of the PostgreSQL folder to postgres failed (is there a `postgres` user?)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = Server {
            bin,
            dir,
            port,
            as_postgres,
        };
        let data = server.data();
        server.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        server.start_server();
        server
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("{tool} could not start: {e}"));
        assert!(
            out.status.success(),
            "{tool} failed ({}):\n{}\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }

    /// Stops the server at once (as a crash would: no clean shutdown).
    pub fn stop(&self) {
        let data = self.data();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }

    /// Starts the server on its port and data (again, after [`stop`](Self::stop)).
    pub fn start_server(&self) {
        let data = self.data();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-l",
                &log.display().to_string(),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
    }

    /// The connection string for the `postgres` database as `user`.
    pub fn conninfo_as(&self, user: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} dbname=postgres",
            self.port
        )
    }

    /// The connection string for the `postgres` database.
    pub fn conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The server processes serving the connections whose `application_name` is `name`.
pub async fn backend_pids(admin: &tokio_postgres::Client, name: &str) -> Vec<i32> {
    admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
            &[&name],
        )
        .await
        .expect("pg_stat_activity is readable")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Server processes stopped with `SIGSTOP`: their sockets stay open and the kernel keeps
/// acknowledging what is sent, but nothing answers (a half-open connection, as with a frozen
/// server or a network that swallows packets). Dropping it resumes them (`SIGCONT`).
pub struct Frozen {
    pids: Vec<i32>,
}

impl Frozen {
    /// Stops the processes and waits until the kernel shows them stopped.
    pub fn stop(pids: &[i32]) -> Frozen {
        let frozen = Frozen {
            pids: pids.to_vec(),
        };
        for &pid in pids {
            // SAFETY: kill has no memory preconditions; the pid is a server process of ours.
            let sent = unsafe { libc::kill(pid, libc::SIGSTOP) };
            assert_eq!(
                sent,
                0,
                "SIGSTOP to {pid}: {}",
                std::io::Error::last_os_error()
            );
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !frozen.all_stopped() {
            assert!(
                std::time::Instant::now() < deadline,
                "the processes {pids:?} did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        frozen
    }

    /// Whether every process is still stopped (state `T` in `/proc/<pid>/stat`).
    pub fn all_stopped(&self) -> bool {
        self.pids.iter().all(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // The state follows the command name in parentheses.
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().next().map(|s| s == "T")
                })
                .unwrap_or(false)
        })
    }

    pub fn pids(&self) -> &[i32] {
        &self.pids
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for &pid in &self.pids {
            // SAFETY: as in `stop`.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
    }
}
