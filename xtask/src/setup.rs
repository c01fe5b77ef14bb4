//! `cargo xtask test`: what the workspace tests need besides Rust, found or installed.
//!
//! The tests start a throwaway PostgreSQL server (miro-api-extended's `PostgresStore` tests) and
//! drive headless Chromium through chromedriver (the OAuth web app's browser test). This module
//! looks for them ([`probe`]), decides what to do about the missing ones ([`plan`]: nothing,
//! install with apt, or stop and say what to install), and the caller carries the plan out.

use std::path::{Path, PathBuf};

/// A system component the tests need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// PostgreSQL's server binaries `initdb` and `pg_ctl`.
    Postgres,
    /// A Chromium (or Chrome) browser.
    Chromium,
    /// chromedriver, the WebDriver server for Chromium.
    Chromedriver,
}

impl Component {
    /// Every component, in the order they are reported.
    pub const ALL: [Component; 3] = [
        Component::Postgres,
        Component::Chromium,
        Component::Chromedriver,
    ];

    /// The Debian/Ubuntu package that provides it.
    pub fn package(self) -> &'static str {
        match self {
            Component::Postgres => "postgresql",
            Component::Chromium => "chromium",
            Component::Chromedriver => "chromium-driver",
        }
    }

    /// What it is and which tests need it, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Component::Postgres => {
                "PostgreSQL server binaries `initdb` and `pg_ctl` (miro-api-extended's PostgresStore tests)"
            }
            Component::Chromium => {
                "a Chromium browser: `chromium`, `chromium-browser` or `google-chrome` on PATH, or \
                 CHROMIUM=path (the OAuth web app's browser test)"
            }
            Component::Chromedriver => {
                "`chromedriver` on PATH, or CHROMEDRIVER=path (the OAuth web app's browser test)"
            }
        }
    }
}

/// Where the components were looked for.
#[derive(Clone, Debug, Default)]
pub struct SearchPlaces {
    /// The `PATH` value.
    pub path: Option<std::ffi::OsString>,
    /// Debian's folder of PostgreSQL versions (`/usr/lib/postgresql`, holding `N/bin`).
    pub postgres_lib: PathBuf,
    /// What `pg_config --bindir` printed, when it ran.
    pub pg_config_bindir: Option<PathBuf>,
    /// `CHROMIUM`, when set: the browser binary the browser test uses.
    pub chromium_env: Option<PathBuf>,
    /// `CHROMEDRIVER`, when set.
    pub chromedriver_env: Option<PathBuf>,
}

impl SearchPlaces {
    /// This machine's places: the environment and `/usr/lib/postgresql`.
    pub fn from_system() -> SearchPlaces {
        SearchPlaces {
            path: std::env::var_os("PATH"),
            postgres_lib: PathBuf::from("/usr/lib/postgresql"),
            pg_config_bindir: std::process::Command::new("pg_config")
                .arg("--bindir")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())),
            chromium_env: std::env::var_os("CHROMIUM").map(PathBuf::from),
            chromedriver_env: std::env::var_os("CHROMEDRIVER").map(PathBuf::from),
        }
    }

    fn on_path(&self, name: &str) -> bool {
        self.path
            .as_deref()
            .map(|p| std::env::split_paths(p).any(|dir| dir.join(name).is_file()))
            .unwrap_or(false)
    }

    fn postgres_found(&self) -> bool {
        let in_lib = std::fs::read_dir(&self.postgres_lib)
            .into_iter()
            .flatten()
            .flatten()
            .any(|version| has_postgres(&version.path().join("bin")));
        in_lib
            || self.pg_config_bindir.as_deref().is_some_and(has_postgres)
            || (self.on_path("initdb") && self.on_path("pg_ctl"))
    }
}

fn has_postgres(bin: &Path) -> bool {
    bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()
}

fn given_or_on_path(places: &SearchPlaces, env: &Option<PathBuf>, names: &[&str]) -> bool {
    match env {
        Some(path) => path.is_file(),
        None => names.iter().any(|n| places.on_path(n)),
    }
}

/// The components not found in `places`, in [`Component::ALL`] order.
pub fn probe(places: &SearchPlaces) -> Vec<Component> {
    Component::ALL
        .into_iter()
        .filter(|c| !match c {
            Component::Postgres => places.postgres_found(),
            Component::Chromium => given_or_on_path(
                places,
                &places.chromium_env,
                &["chromium", "chromium-browser", "google-chrome"],
            ),
            Component::Chromedriver => {
                given_or_on_path(places, &places.chromedriver_env, &["chromedriver"])
            }
        })
        .collect()
}

/// What the machine allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Host {
    /// Running as root (uid 0).
    pub root: bool,
    /// Debian or Ubuntu (or a derivative) with `apt-get` on PATH.
    pub apt: bool,
}

impl Host {
    /// This machine.
    pub fn detect(places: &SearchPlaces) -> Host {
        let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        Host {
            root: is_root(),
            apt: is_debian_like(&os_release) && places.on_path("apt-get"),
        }
    }
}

/// Whether an `/etc/os-release` names Debian or Ubuntu (`ID` or `ID_LIKE`).
pub fn is_debian_like(os_release: &str) -> bool {
    os_release.lines().any(|line| {
        let Some((key, value)) = line.split_once('=') else {
            return false;
        };
        matches!(key.trim(), "ID" | "ID_LIKE")
            && value
                .trim()
                .trim_matches('"')
                .split_whitespace()
                .any(|id| id == "debian" || id == "ubuntu")
    })
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// What `cargo xtask test` does before running the tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Everything is there: run the tests.
    Ready,
    /// Run these commands (program and arguments), then look again.
    Install(Vec<Vec<String>>),
    /// Stop with this message, which says exactly what to install.
    Stop(String),
}

/// The apt commands that install `missing`: `apt-get update` once, then one `apt-get install`.
pub fn apt_commands(missing: &[Component]) -> Vec<Vec<String>> {
    let mut install: Vec<String> = ["apt-get", "install", "-y"].map(String::from).to_vec();
    install.extend(missing.iter().map(|c| c.package().to_string()));
    vec![vec!["apt-get".into(), "update".into()], install]
}

/// Decides what to do about the `missing` components on `host`.
pub fn plan(missing: &[Component], host: Host) -> Plan {
    if missing.is_empty() {
        return Plan::Ready;
    }
    if host.root && host.apt {
        return Plan::Install(apt_commands(missing));
    }
    Plan::Stop(stop_message(missing, host))
}

/// The message naming what is missing and how to install it.
pub fn stop_message(missing: &[Component], host: Host) -> String {
    let mut msg = String::from("the workspace tests need, and this machine lacks:\n");
    for c in missing {
        msg.push_str(&format!("  - {}\n", c.describe()));
    }
    let packages: Vec<&str> = missing.iter().map(|c| c.package()).collect();
    let apt = format!("apt-get install -y {}", packages.join(" "));
    if host.apt {
        msg.push_str(&format!(
            "Install them with `sudo {apt}` (or run `cargo xtask test` as root, which does it), \
             then run `cargo xtask test` again."
        ));
    } else {
        msg.push_str(&format!(
            "Install them with your system's package manager (on Debian or Ubuntu: `{apt}`) so \
             that the binaries above are on PATH, then run `cargo xtask test` again."
        ));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    const ROOT_APT: Host = Host {
        root: true,
        apt: true,
    };
    const USER_APT: Host = Host {
        root: false,
        apt: true,
    };
    const ROOT_OTHER_OS: Host = Host {
        root: true,
        apt: false,
    };

    /// A folder with empty files standing for binaries, removed on drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let dir =
                std::env::temp_dir().join(format!("xtask-setup-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }

        fn touch(&self, rel: &str) -> PathBuf {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"").unwrap();
            p
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn places(dir: &Dir) -> SearchPlaces {
        SearchPlaces {
            path: Some(std::env::join_paths([dir.0.join("bin")]).unwrap()),
            postgres_lib: dir.0.join("lib/postgresql"),
            pg_config_bindir: None,
            chromium_env: None,
            chromedriver_env: None,
        }
    }

    #[test]
    fn an_empty_machine_lacks_everything() {
        let dir = Dir::new("empty");
        assert_eq!(probe(&places(&dir)), Component::ALL.to_vec());
    }

    #[test]
    fn everything_on_path_is_found() {
        let dir = Dir::new("path");
        for name in ["initdb", "pg_ctl", "chromium", "chromedriver"] {
            dir.touch(&format!("bin/{name}"));
        }
        assert_eq!(probe(&places(&dir)), vec![]);
    }

    #[test]
    fn debian_postgres_folder_counts_and_needs_both_binaries() {
        let dir = Dir::new("debian");
        dir.touch("lib/postgresql/15/bin/initdb");
        assert!(probe(&places(&dir)).contains(&Component::Postgres));
        dir.touch("lib/postgresql/15/bin/pg_ctl");
        assert!(!probe(&places(&dir)).contains(&Component::Postgres));
    }

    #[test]
    fn initdb_alone_on_path_is_not_postgres() {
        let dir = Dir::new("initdb");
        dir.touch("bin/initdb");
        assert!(probe(&places(&dir)).contains(&Component::Postgres));
    }

    #[test]
    fn browser_env_overrides_are_checked_files() {
        let dir = Dir::new("env");
        let chromium = dir.touch("elsewhere/chrome");
        let mut p = places(&dir);
        p.chromium_env = Some(chromium);
        p.chromedriver_env = Some(dir.0.join("elsewhere/no-such-driver"));
        let missing = probe(&p);
        assert!(!missing.contains(&Component::Chromium));
        assert!(missing.contains(&Component::Chromedriver));
    }

    #[test]
    fn nothing_missing_runs_the_tests() {
        assert_eq!(plan(&[], ROOT_APT), Plan::Ready);
        assert_eq!(plan(&[], USER_APT), Plan::Ready);
        assert_eq!(plan(&[], ROOT_OTHER_OS), Plan::Ready);
    }

    #[test]
    fn root_on_debian_installs_exactly_the_missing_packages_after_one_update() {
        let Plan::Install(cmds) = plan(&[Component::Chromium, Component::Chromedriver], ROOT_APT)
        else {
            panic!("expected an install");
        };
        assert_eq!(cmds[0], ["apt-get", "update"]);
        assert_eq!(
            cmds[1],
            ["apt-get", "install", "-y", "chromium", "chromium-driver"]
        );
        assert_eq!(cmds.len(), 2);
        let Plan::Install(all) = plan(&Component::ALL, ROOT_APT) else {
            panic!("expected an install");
        };
        assert_eq!(
            all[1][3..],
            ["postgresql", "chromium", "chromium-driver"].map(String::from)
        );
    }

    #[test]
    fn without_root_it_stops_with_the_sudo_command() {
        let Plan::Stop(msg) = plan(&[Component::Postgres], USER_APT) else {
            panic!("expected a stop");
        };
        assert!(msg.contains("sudo apt-get install -y postgresql`"), "{msg}");
        assert!(msg.contains("initdb"), "{msg}");
        assert!(!msg.contains("chromium"), "{msg}");
    }

    #[test]
    fn without_apt_it_stops_naming_binaries_and_packages() {
        let Plan::Stop(msg) = plan(&Component::ALL, ROOT_OTHER_OS) else {
            panic!("expected a stop");
        };
        for needle in [
            "initdb",
            "pg_ctl",
            "chromedriver",
            "CHROMIUM",
            "apt-get install -y postgresql chromium chromium-driver",
        ] {
            assert!(msg.contains(needle), "{needle:?} missing from {msg}");
        }
        assert!(!msg.contains("sudo"), "{msg}");
    }

    #[test]
    fn os_release_detection() {
        assert!(is_debian_like(
            "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\n"
        ));
        assert!(is_debian_like("ID=ubuntu\nID_LIKE=debian\n"));
        assert!(is_debian_like("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n"));
        assert!(!is_debian_like("ID=fedora\nID_LIKE=\"rhel centos\"\n"));
        assert!(!is_debian_like("NAME=\"Not debian\"\n"));
        assert!(!is_debian_like(""));
    }

    #[test]
    fn os_str_is_used_for_path() {
        // PATH may hold non-UTF-8 folders; they are searched like any other.
        let dir = Dir::new("osstr");
        dir.touch("bin/chromedriver");
        let mut p = places(&dir);
        let mut joined = std::ffi::OsString::from("/nonexistent-xtask-dir:");
        joined.push(OsStr::new(dir.0.join("bin").as_os_str()));
        p.path = Some(joined);
        assert!(!probe(&p).contains(&Component::Chromedriver));
    }
}
