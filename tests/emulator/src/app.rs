//! The shared application state every handler sees.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use crate::fallback::FallbackFn;
use crate::faults::Faults;
use crate::ids::IdGen;
use crate::log::RequestLog;
use crate::oauth::Auth;
use crate::persist::Persist;
use crate::rate_limit::RateLimiter;
use crate::state::Store;

/// Settings fixed at start.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub access_lifetime: Option<Duration>,
    pub refresh_lifetime: Duration,
    pub client_id: String,
    pub client_secret: String,
    pub user_id: String,
    pub user_name: String,
    pub team_id: String,
    pub team_name: String,
    pub team_id_as_number: bool,
    pub scopes: String,
    /// Further users the authorize page offers (id, name); empty: it approves at once as
    /// `user_id`.
    pub oauth_users: Vec<(String, String)>,
}

impl Config {
    /// The name of user `id`: an OAuth user's own name, else the default user's.
    pub(crate) fn user_name_of(&self, id: &str) -> &str {
        self.oauth_users
            .iter()
            .find(|(uid, _)| uid == id)
            .map_or(self.user_name.as_str(), |(_, name)| name.as_str())
    }
}

/// Everything the server shares between requests.
pub(crate) struct App {
    pub cfg: Config,
    pub base_url: String,
    pub ids: IdGen,
    pub store: RwLock<Store>,
    pub auth: Auth,
    pub rate: RateLimiter,
    pub faults: Faults,
    pub log: RequestLog,
    pub fallback: Option<Arc<FallbackFn>>,
    /// The state file and its saving, when the emulator has one.
    pub persist: Option<Persist>,
}

impl App {
    /// The API URL of a path, e.g. `http://127.0.0.1:1234/v2/boards/x`.
    pub(crate) fn url(&self, path: &str) -> String {
        let mut s = String::with_capacity(self.base_url.len() + path.len());
        s.push_str(&self.base_url);
        s.push_str(path);
        s
    }
}

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub token: Arc<str>,
    pub user_id: Arc<str>,
}

/// The shared state as handlers extract it.
pub(crate) type Shared = Arc<App>;
