//! The token provider behind [`Miro::as_user`](super::Miro::as_user).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use miro_api::{AccessToken, BoxError, TokenProvider};

use super::{lock, Inner};

/// Gives one user's access token from the store, refreshing it when needed.
pub(crate) struct UserTokens {
    miro: Arc<Inner>,
    user_id: String,
    /// The last token handed out and whether it can be refreshed.
    last: Mutex<Option<(AccessToken, bool)>>,
}

impl UserTokens {
    pub(crate) fn new(miro: Arc<Inner>, user_id: &str) -> Self {
        UserTokens {
            miro,
            user_id: user_id.to_string(),
            last: Mutex::new(None),
        }
    }
}

impl TokenProvider for UserTokens {
    fn access_token(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<AccessToken, BoxError>> + Send + '_>> {
        Box::pin(async move {
            let (token, refreshable) = self.miro.token_for(&self.user_id).await?;
            *lock(&self.last) = Some((token.clone(), refreshable));
            Ok(token)
        })
    }

    fn token_rejected(&self, rejected: &AccessToken) -> bool {
        let not_refreshable = matches!(
            &*lock(&self.last),
            Some((token, false)) if token == rejected
        );
        if not_refreshable {
            // Nothing to refresh with: let the 401 through as it is.
            return false;
        }
        tracing::debug!(user_id = %self.user_id, "Miro rejected the access token; refreshing");
        self.miro.token_rejected(&self.user_id, rejected);
        true
    }
}
