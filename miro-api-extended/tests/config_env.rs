//! Configuration from the environment. One test in its own binary: it changes the process's
//! environment, which no other test may see.

use miro_api_extended::{ConfigError, Miro};

const VARS: [&str; 3] = ["MIRO_CLIENT_ID", "MIRO_CLIENT_SECRET", "MIRO_REDIRECT_URL"];

#[test]
fn settings_come_from_arguments_or_the_environment_and_missing_ones_are_named() {
    for v in VARS {
        std::env::remove_var(v);
    }
    let err = Miro::builder().build().unwrap_err();
    assert!(
        matches!(&err, ConfigError::Missing { missing } if missing == &VARS),
        "{err}"
    );
    let message = err.to_string();
    assert!(VARS.iter().all(|v| message.contains(v)), "{message}");

    // Arguments fill in what the environment lacks; only the rest is reported.
    let err = Miro::builder().client_id("42").build().unwrap_err();
    assert!(
        matches!(&err, ConfigError::Missing { missing } if missing == &["MIRO_CLIENT_SECRET", "MIRO_REDIRECT_URL"]),
        "{err}"
    );

    std::env::set_var("MIRO_CLIENT_ID", "from-env");
    std::env::set_var("MIRO_CLIENT_SECRET", "env-secret-XYZ");
    std::env::set_var("MIRO_REDIRECT_URL", "https://app.example.com/cb");
    let miro = Miro::from_env().unwrap();
    assert_eq!(miro.client_id(), "from-env");
    assert_eq!(miro.redirect_url(), "https://app.example.com/cb");
    assert!(miro
        .auth_url()
        .starts_with("https://miro.com/oauth/authorize?response_type=code&client_id=from-env&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb"));
    assert!(!format!("{miro:?}").contains("env-secret-XYZ"));

    // Arguments win over the environment.
    let miro = Miro::builder().client_id("from-arg").build().unwrap();
    assert_eq!(miro.client_id(), "from-arg");

    // An empty variable counts as missing; a bad URL is named.
    std::env::set_var("MIRO_CLIENT_SECRET", "  ");
    let err = Miro::from_env().unwrap_err();
    assert!(
        matches!(&err, ConfigError::Missing { missing } if missing == &["MIRO_CLIENT_SECRET"]),
        "{err}"
    );
    std::env::set_var("MIRO_CLIENT_SECRET", "env-secret-XYZ");
    std::env::set_var("MIRO_REDIRECT_URL", "not a url");
    let err = Miro::from_env().unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::InvalidUrl {
                setting: "MIRO_REDIRECT_URL",
                ..
            }
        ),
        "{err}"
    );
    let err = Miro::builder()
        .redirect_url("https://app.example.com/cb")
        .api_base_url("ftp://example.com")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::InvalidUrl {
                setting: "api_base_url",
                ..
            }
        ),
        "{err}"
    );
    for v in VARS {
        std::env::remove_var(v);
    }
}
