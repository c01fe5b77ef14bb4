//! The `TokenStore` contract every store must keep: compare-and-set on the refresh token and
//! the per-user lease.

use std::time::{Duration, UNIX_EPOCH};

use miro_api_extended::storage::{TokenState, TokenStore};
use miro_api_extended::RefreshToken;

fn state(n: u32) -> TokenState {
    TokenState::new(format!("access-{n}"))
        .with_refresh_token(format!("refresh-{n}"))
        .with_expires_at(UNIX_EPOCH + Duration::from_secs(1_900_000_000 + u64::from(n)))
        .with_grant(Some(format!("team-{n}")), Some("boards:read".into()))
}

/// Checks `replace_if`, `try_lease` and `release_lease` on an empty store.
pub async fn check(store: &dyn TokenStore) {
    let r = |n: u32| RefreshToken::new(format!("refresh-{n}"));
    // replace_if: nothing stored, a wrong refresh token, then the right one.
    assert!(!store
        .replace_if("c1", &r(1), Some(&state(2)))
        .await
        .unwrap());
    assert_eq!(store.get("c1").await.unwrap(), None);
    store.set("c1", &state(1)).await.unwrap();
    assert!(!store
        .replace_if("c1", &r(9), Some(&state(2)))
        .await
        .unwrap());
    assert_eq!(store.get("c1").await.unwrap(), Some(state(1)));
    assert!(store
        .replace_if("c1", &r(1), Some(&state(2)))
        .await
        .unwrap());
    assert_eq!(store.get("c1").await.unwrap(), Some(state(2)));
    // Removal only of an unchanged refresh token.
    assert!(!store.replace_if("c1", &r(1), None).await.unwrap());
    assert_eq!(store.get("c1").await.unwrap(), Some(state(2)));
    assert!(store.replace_if("c1", &r(2), None).await.unwrap());
    assert_eq!(store.get("c1").await.unwrap(), None);

    // Leases: exclusive, extendable by the holder, released only by it, per user.
    let long = Duration::from_secs(60);
    assert!(store.try_lease("c1", "a", long).await.unwrap());
    assert!(!store.try_lease("c1", "b", long).await.unwrap());
    assert!(
        store.try_lease("c1", "a", long).await.unwrap(),
        "the holder extends"
    );
    assert!(store.try_lease("c2", "b", long).await.unwrap(), "per user");
    store.release_lease("c1", "b").await.unwrap();
    assert!(
        !store.try_lease("c1", "b", long).await.unwrap(),
        "only the holder releases"
    );
    store.release_lease("c1", "a").await.unwrap();
    assert!(store.try_lease("c1", "b", long).await.unwrap());
    store.release_lease("c1", "b").await.unwrap();
    store.release_lease("c2", "b").await.unwrap();
    // A lease expires by itself.
    assert!(store
        .try_lease("c3", "a", Duration::from_millis(300))
        .await
        .unwrap());
    assert!(!store.try_lease("c3", "b", long).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(store.try_lease("c3", "b", long).await.unwrap(), "expired");
    store.release_lease("c3", "b").await.unwrap();
}
