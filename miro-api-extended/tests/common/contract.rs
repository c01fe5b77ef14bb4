//! The `TokenStore` contract every store must keep: records with their version and marker,
//! and the compare-and-set on the version.

use std::time::{Duration, UNIX_EPOCH};

use miro_api_extended::storage::{StoredTokens, TokenState, TokenStore};

/// Tokens `n`; an even `n` with its lifetime known (`obtained_at` round-trips too).
fn state(n: u32) -> TokenState {
    let at = UNIX_EPOCH + Duration::from_secs(1_900_000_000 + u64::from(n));
    let state = TokenState::new(format!("access-{n}")).with_refresh_token(format!("refresh-{n}"));
    let state = if n.is_multiple_of(2) {
        state.with_lifetime(at, Duration::from_secs(60))
    } else {
        state.with_expires_at(at)
    };
    state.with_grant(Some(format!("team-{n}")), Some("boards:read".into()))
}

fn record(n: u32, version: u64, marker: Option<&str>) -> StoredTokens {
    StoredTokens::from_parts(state(n), version, marker.map(str::to_string))
}

/// Checks `put`, `set`, `replace_if` and `remove` on an empty store.
pub async fn check(store: &dyn TokenStore) {
    // Nothing stored: no compare-and-set succeeds.
    assert!(!store
        .replace_if("c1", 7, Some(&record(2, 8, None)))
        .await
        .unwrap());
    assert_eq!(store.get("c1").await.unwrap(), None);
    // Versions round-trip whole, the largest included (stored as signed 64-bit in SQL).
    store.put("c1", &record(1, u64::MAX, None)).await.unwrap();
    assert_eq!(
        store.get("c1").await.unwrap(),
        Some(record(1, u64::MAX, None))
    );
    // A wrong version changes nothing; the right one replaces, marker and all.
    assert!(!store
        .replace_if("c1", 1, Some(&record(2, 2, None)))
        .await
        .unwrap());
    assert_eq!(
        store.get("c1").await.unwrap(),
        Some(record(1, u64::MAX, None))
    );
    let marked = record(1, 1 << 63, Some("refreshing pid1-ab"));
    assert!(store
        .replace_if("c1", u64::MAX, Some(&marked))
        .await
        .unwrap());
    assert_eq!(store.get("c1").await.unwrap(), Some(marked));
    // The same write again (a retry whose first try landed) is refused: the version moved.
    assert!(!store
        .replace_if(
            "c1",
            u64::MAX,
            Some(&record(1, 1 << 63, Some("refreshing pid1-ab")))
        )
        .await
        .unwrap());
    assert!(store
        .replace_if("c1", 1 << 63, Some(&record(2, 5, None)))
        .await
        .unwrap());
    assert_eq!(store.get("c1").await.unwrap(), Some(record(2, 5, None)));
    // Removal only of an unchanged version.
    assert!(!store.replace_if("c1", 1 << 63, None).await.unwrap());
    assert!(store.get("c1").await.unwrap().is_some());
    assert!(store.replace_if("c1", 5, None).await.unwrap());
    assert_eq!(store.get("c1").await.unwrap(), None);
    // `set` stores the tokens unmarked under a new version; `put` replaces whatever is there.
    store.set("c2", &state(3)).await.unwrap();
    let set = store.get("c2").await.unwrap().unwrap();
    assert_eq!((set.state.clone(), set.marker.clone()), (state(3), None));
    store.set("c2", &state(3)).await.unwrap();
    assert_ne!(store.get("c2").await.unwrap().unwrap().version, set.version);
    store
        .put("c2", &record(4, 9, Some("revoking x")))
        .await
        .unwrap();
    assert_eq!(
        store.get("c2").await.unwrap(),
        Some(record(4, 9, Some("revoking x")))
    );
    store.remove("c2").await.unwrap();
    store.remove("c2").await.unwrap();
    assert_eq!(store.get("c2").await.unwrap(), None);
}
