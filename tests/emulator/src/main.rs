//! `miro-emulator`: runs the Miro emulator until interrupted.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const HELP: &str = "\
miro-emulator: an offline fake of the Miro REST API v2

USAGE:
    miro-emulator [OPTIONS]

OPTIONS:
    --port N               port on 127.0.0.1 (default 0: a free one)
    --token T              a static access token (repeatable; default emulator-token)
    --rate-limit CREDITS   credits per window (default 100000)
    --window-secs S        rate-limit window in seconds (default 60)
    --token-lifetime S     lifetime of OAuth access tokens in seconds (default 3599)
    --enterprise M,T,P     seed the organisation: M members, T teams of P members each
                           (a fresh state only)
    --state FILE           keep boards, items, members, comments, ... in FILE across
                           restarts (read at start, written after changes and on exit)
    --quiet                don't keep a request log
    -h, --help             print this help
";

struct Args {
    port: u16,
    tokens: Vec<String>,
    credits: u64,
    window: u64,
    lifetime: u64,
    quiet: bool,
    enterprise: (usize, usize, usize),
    state: Option<PathBuf>,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args {
        port: 0,
        tokens: Vec::new(),
        credits: 100_000,
        window: 60,
        lifetime: 3599,
        quiet: false,
        enterprise: (0, 0, 0),
        state: None,
    };
    fn num<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
        let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
        v.parse().map_err(|_| format!("{flag}: not a number: {v}"))
    }
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => a.port = num("--port", it.next())?,
            "--token" => a.tokens.push(it.next().ok_or("--token needs a value")?),
            "--rate-limit" => a.credits = num("--rate-limit", it.next())?,
            "--window-secs" => a.window = num("--window-secs", it.next())?,
            "--token-lifetime" => a.lifetime = num("--token-lifetime", it.next())?,
            "--quiet" => a.quiet = true,
            "--state" => a.state = Some(it.next().ok_or("--state needs a file")?.into()),
            "--enterprise" => {
                let v = it.next().ok_or("--enterprise needs M,T,P")?;
                let n: Vec<usize> = v
                    .split(',')
                    .map(|x| x.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("--enterprise: not M,T,P: {v}"))?;
                match n[..] {
                    [m, t, p] => a.enterprise = (m, t, p),
                    _ => return Err(format!("--enterprise: not M,T,P: {v}")),
                }
            }
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Some(a))
}

/// Waits for Ctrl-C or, on Unix, SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    // The state saver reports failed writes through tracing.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .init();
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    let mut b = miro_emulator::Emulator::builder()
        .port(args.port)
        .rate_limit(args.credits, Duration::from_secs(args.window))
        .access_token_lifetime(Some(Duration::from_secs(args.lifetime)))
        .log_requests(!args.quiet)
        .enterprise(args.enterprise.0, args.enterprise.1, args.enterprise.2);
    if !args.tokens.is_empty() {
        b = b.tokens(args.tokens);
    }
    if let Some(path) = &args.state {
        b = b.state_file(path);
    }
    let emu = match b.start().await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("Miro emulator listening on {}", emu.base_url());
    println!("access token: {}", emu.access_token());
    println!("organisation: {}", emu.org_id());
    println!(
        "OAuth client: {} / {}",
        emu.client_id(),
        emu.client_secret()
    );
    if let Some(path) = emu.state_file() {
        println!("state: {} ({} boards)", path.display(), emu.board_count());
    }
    stop_signal().await;
    match emu.shutdown_and_save().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Option<Args>, String> {
        parse(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn enterprise_takes_three_counts() {
        let a = args(&["--enterprise", "300,4,50"]).unwrap().unwrap();
        assert_eq!(a.enterprise, (300, 4, 50));
        assert!(args(&["--enterprise", "300,4"]).is_err());
        assert!(args(&["--enterprise", "x,1,2"]).is_err());
        assert!(args(&["--enterprise"]).is_err());
    }

    #[test]
    fn state_takes_a_file() {
        let a = args(&["--state", "s.json"]).unwrap().unwrap();
        assert_eq!(a.state, Some(PathBuf::from("s.json")));
        assert!(args(&["--state"]).is_err());
    }
}
