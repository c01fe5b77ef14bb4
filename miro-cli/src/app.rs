//! The clap command tree, built from the generated table.

use clap::builder::{PossibleValuesParser, ValueParser};
use clap::{Arg, ArgAction, Command as Clap};

use crate::generated::commands::{AREAS, COMMANDS};
use crate::table::{BodyKind, Command, Kind, Pagination, Param};

const ABOUT: &str = "A command line for the Miro REST API v2, generated from its OpenAPI spec";

const AFTER_HELP: &str = "\
Authentication: MIRO_ACCESS_TOKEN or --token, else the tokens `miro login` stored.
Offline: MIRO_API_BASE_URL or --base-url points at the emulator (`miro-emulator`).
Exit codes: 0 ok, 2 usage or refused body, 3 auth, 4 not found, 5 rate limited, 6 server
error, 7 other refusal by Miro, 8 network or time-out, 1 anything else.";

/// The areas by name, each with its one-line about.
pub fn areas() -> impl Iterator<Item = (&'static str, &'static str)> {
    AREAS.iter().map(|a| (a.name, a.about))
}

fn global_args(cmd: Clap) -> Clap {
    cmd.arg(
        Arg::new("token")
            .long("token")
            .global(true)
            .value_name("TOKEN")
            .help("Access token (default: MIRO_ACCESS_TOKEN, else the stored login)"),
    )
    .arg(
        Arg::new("base-url")
            .long("base-url")
            .global(true)
            .value_name("URL")
            .help("API base URL (default: MIRO_API_BASE_URL, else https://api.miro.com)"),
    )
    .arg(
        Arg::new("output")
            .long("output")
            .short('o')
            .global(true)
            .value_name("FORMAT")
            .value_parser(["json", "table"])
            .help("json (pretty on a terminal, compact when piped) or table"),
    )
    .arg(
        Arg::new("config-dir")
            .long("config-dir")
            .global(true)
            .value_name("DIR")
            .help(
                "Where `miro login` keeps tokens (default: MIRO_CONFIG_DIR, else ~/.config/miro)",
            ),
    )
    .arg(
        Arg::new("quiet")
            .long("quiet")
            .short('q')
            .global(true)
            .action(ArgAction::SetTrue)
            .help("No progress on stderr"),
    )
}

/// The whole tree; with `only_area`, the other areas' commands are left out (their group
/// stays), which keeps start-up quick.
pub fn build(only_area: Option<&str>) -> Clap {
    let mut root = Clap::new("miro")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .after_help(AFTER_HELP)
        .subcommand_required(true)
        .arg_required_else_help(true);
    root = global_args(root);
    for (area, about) in areas() {
        let mut group = Clap::new(area)
            .about(about)
            .subcommand_required(true)
            .arg_required_else_help(true);
        if only_area.is_none_or(|a| a == area) {
            for c in COMMANDS.iter().filter(|c| c.area == area) {
                group = group.subcommand(operation(c));
            }
        }
        root = root.subcommand(group);
    }
    root.subcommand(api_command())
        .subcommand(
            Clap::new("login")
                .about("Sign in with OAuth in the browser; tokens are stored (0600) in the config directory")
                .arg(Arg::new("client-id").long("client-id").value_name("ID").help("The app's client id (default: MIRO_CLIENT_ID)"))
                .arg(Arg::new("client-secret").long("client-secret").value_name("SECRET").help("The app's client secret (default: MIRO_CLIENT_SECRET)"))
                .arg(Arg::new("port").long("port").value_name("PORT").value_parser(clap::value_parser!(u16)).help("Loopback port of the redirect http://127.0.0.1:PORT/callback (default: any free port; Miro needs the one your app registered)"))
                .arg(Arg::new("auth-base-url").long("auth-base-url").value_name("URL").help("Where users sign in (default: MIRO_AUTH_BASE_URL; the API base URL when it is not Miro's; else https://miro.com)"))
                .arg(Arg::new("no-browser").long("no-browser").action(ArgAction::SetTrue).help("Print the sign-in URL on stderr instead of opening a browser")),
        )
        .subcommand(Clap::new("logout").about("Revoke the stored tokens and forget them"))
        .subcommand(Clap::new("whoami").about("The token's user, team and scopes"))
        .subcommand(
            Clap::new("completions")
                .about("Shell completions: `miro completions bash > /etc/bash_completion.d/miro`")
                .arg(Arg::new("shell").required(true).value_parser(["bash", "zsh", "fish", "elvish", "powershell"])),
        )
}

fn api_command() -> Clap {
    Clap::new("api")
        .about("A request to any path, with the same auth, pacing and retries (like `gh api`)")
        .arg(
            Arg::new("method")
                .required(true)
                .value_name("METHOD")
                .help("GET, POST, PUT, PATCH or DELETE"),
        )
        .arg(
            Arg::new("path").required(true).value_name("PATH").help(
                "e.g. /v2/boards/ID/items?limit=50 (segments as given; encode them yourself)",
            ),
        )
        .arg(
            Arg::new("query")
                .long("query")
                .short('Q')
                .action(ArgAction::Append)
                .value_name("NAME=VALUE")
                .help("A query parameter (repeatable)"),
        )
        .arg(body_arg())
        .arg(set_arg())
        .arg(
            Arg::new("paginate")
                .long("paginate")
                .action(ArgAction::SetTrue)
                .help("Walk every page (cursor or offset lists); one item per line"),
        )
        .arg(dry_run_arg())
}

fn body_arg() -> Arg {
    Arg::new("body")
        .long("body")
        .value_name("FILE")
        .help("JSON body from FILE, or `-` for stdin")
}

fn set_arg() -> Arg {
    Arg::new("set")
        .long("set")
        .action(ArgAction::Append)
        .value_name("PATH=VALUE")
        .help("Set a body field: `data.content=Hi` (VALUE as JSON when it parses, else text)")
}

fn dry_run_arg() -> Arg {
    Arg::new("dry-run")
        .long("dry-run")
        .action(ArgAction::SetTrue)
        .help("Print the request (method, URL, body) instead of sending it; never the token")
}

fn value_arg(p: &Param, help_prefix: &str, required: bool) -> Arg {
    let mut arg = Arg::new(p.flag).long(p.flag).required(required);
    if let Some(short) = p.flag.strip_suffix("-id") {
        if !short.is_empty() {
            arg = arg.visible_alias(short);
        }
    }
    let help = if p.help.is_empty() {
        format!("{help_prefix}{}", p.name)
    } else {
        format!("{help_prefix}{}", p.help)
    };
    arg = arg.help(help);
    arg = arg.value_name(match p.kind {
        Kind::Integer => "INT",
        Kind::Number => "NUMBER",
        Kind::Boolean => "BOOL",
        Kind::Json => "JSON",
        Kind::String if p.flag.ends_with("id") => "ID",
        Kind::String => "TEXT",
    });
    if p.many {
        arg = arg.action(ArgAction::Append);
    }
    let parser: ValueParser = if !p.values.is_empty() {
        PossibleValuesParser::new(p.values.iter().copied()).into()
    } else {
        match p.kind {
            Kind::Integer => clap::value_parser!(i64).into(),
            Kind::Number => clap::value_parser!(f64).into(),
            Kind::Boolean => clap::value_parser!(bool),
            _ => ValueParser::string(),
        }
    };
    arg.value_parser(parser)
}

/// One operation's command.
pub fn operation(c: &'static Command) -> Clap {
    let mut facts = String::new();
    if let Some(scope) = c.scope {
        facts.push_str(&format!("Required scope: {scope}\n"));
    }
    match c.level {
        Some(level) => facts.push_str(&format!(
            "Rate limit: level {level} ({} credits{})\n",
            c.credits,
            if c.credits_per_item { " per item" } else { "" }
        )),
        None => facts.push_str("Rate limit: not stated by the spec\n"),
    }
    match c.pagination {
        Pagination::Cursor => facts.push_str("Paginated by cursor: --all walks every page\n"),
        Pagination::Offset => facts.push_str("Paginated by offset: --all walks every page\n"),
        Pagination::None => {}
    }
    if c.enterprise_only {
        facts.push_str("Enterprise plan only\n");
    }
    if c.deprecated {
        facts.push_str("Deprecated\n");
    }
    let mut cmd = Clap::new(c.action)
        .about(c.summary)
        .long_about(c.help)
        .after_help(facts.trim_end().to_string());
    for p in c.path_params {
        cmd = cmd.arg(value_arg(p, "", true));
    }
    for p in c.query_params {
        cmd = cmd.arg(value_arg(p, "", p.required));
    }
    for p in c.body_fields {
        cmd = cmd.arg(value_arg(p, "(body) ", false));
    }
    match c.body {
        BodyKind::None => {}
        BodyKind::Json { .. } | BodyKind::Multipart => {
            cmd = cmd.arg(body_arg()).arg(set_arg()).arg(
                Arg::new("no-check")
                    .long("no-check")
                    .action(ArgAction::SetTrue)
                    .help("Send the body without checking it against the request type"),
            );
        }
    }
    for f in c.file_parts {
        let arg = Arg::new("file")
            .long("file")
            .value_name("PATH")
            .required(true)
            .help(format!("The file to upload (part `{}`)", f.name));
        cmd = cmd.arg(if f.many {
            arg.action(ArgAction::Append)
        } else {
            arg
        });
    }
    if c.pagination != Pagination::None {
        cmd = cmd.arg(Arg::new("all").long("all").action(ArgAction::SetTrue).help(
            "Walk every page: one item per line (NDJSON), the cursor to resume from on stderr",
        ));
    }
    cmd.arg(dry_run_arg())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_tree_passes_clap_checks() {
        // Duplicate flags or aliases, bad defaults: clap's own assertions, over every command.
        build(None).debug_assert();
    }

    #[test]
    fn help_is_plain_text() {
        for c in COMMANDS {
            let texts = c
                .path_params
                .iter()
                .chain(c.query_params)
                .chain(c.body_fields)
                .map(|p| p.help)
                .chain([c.help, c.summary]);
            for t in texts {
                for tag in ["<br", "<p>", "</", "<a ", "<b>", "&nbsp;", "&lt;"] {
                    assert!(!t.contains(tag), "{} {}: {tag} in {t:?}", c.area, c.action);
                }
            }
        }
    }

    #[test]
    fn help_lists_areas_by_name_then_the_other_commands() {
        let root = build(None);
        let names: Vec<&str> = root.get_subcommands().map(|c| c.get_name()).collect();
        let (areas, rest) = names.split_at(AREAS.len());
        let mut sorted = areas.to_vec();
        sorted.sort_unstable();
        assert_eq!(areas, sorted, "areas out of order");
        assert_eq!(rest, ["api", "login", "logout", "whoami", "completions"]);
        // Actions too, within each area.
        for area in root.get_subcommands().take(AREAS.len()) {
            let actions: Vec<&str> = area.get_subcommands().map(|c| c.get_name()).collect();
            let mut sorted = actions.clone();
            sorted.sort_unstable();
            assert_eq!(actions, sorted, "{}: actions out of order", area.get_name());
        }
    }

    #[test]
    fn an_area_is_about_its_tag() {
        let about = |name: &str| {
            AREAS
                .iter()
                .find(|a| a.name == name)
                .map(|a| a.about)
                .unwrap_or_else(|| panic!("no area {name}"))
        };
        assert_eq!(about("items"), "Items");
        assert_eq!(about("sticky-notes"), "Sticky note items");
        assert_eq!(about("oauth"), "OAuth");
        assert_eq!(about("code-widgets"), "Code widget items (experimental)");
        assert_eq!(about("scim-user"), "User (SCIM)");
        let help = build(None).render_help().to_string();
        assert!(help.contains("Sticky note items"), "{help}");
    }

    #[test]
    fn colliding_actions_say_how_they_differ() {
        let actions: Vec<&str> = COMMANDS
            .iter()
            .filter(|c| c.area == "items")
            .map(|c| c.action)
            .collect();
        assert!(actions.contains(&"delete"), "{actions:?}");
        assert!(actions.contains(&"delete-experimental"), "{actions:?}");
        assert!(!actions.iter().any(|a| a.contains("item")), "{actions:?}");
    }

    #[test]
    fn every_operation_has_one_command() {
        let mut names: Vec<(&str, &str)> = COMMANDS.iter().map(|c| (c.area, c.action)).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
        assert_eq!(COMMANDS.len(), miro_api::operations::OPERATIONS.len());
    }
}
