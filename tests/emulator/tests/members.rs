//! Sharing a board: the roles of the spec's `BoardRole`, the address rule, re-invites.

mod common;

use common::{assert_error, enc, Api};
use reqwest::Method;
use serde_json::{json, Value};

async fn members(api: &Api, b: &str) -> Vec<Value> {
    let (s, page) = api.get(&format!("/v2/boards/{b}/members?limit=50")).await;
    assert_eq!(s, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}

fn role_of<'a>(list: &'a [Value], name: &str) -> &'a Value {
    &list.iter().find(|m| m["name"] == name).expect(name)["role"]
}

#[tokio::test]
async fn invite_roles_follow_the_spec() {
    let api = Api::start().await;
    let b = enc(&api.board("roles").await);
    let share = format!("/v2/boards/{b}/members");

    // `owner` is documented as having the effect of `coowner`.
    let (s, res) = api
        .post(
            &share,
            json!({"emails": ["olga@example.com"], "role": "owner"}),
        )
        .await;
    assert_eq!(s, 201, "{res}");
    assert_eq!(res["successful"].as_array().unwrap().len(), 1);
    let list = members(&api, &b).await;
    assert_eq!(role_of(&list, "olga"), "coowner");
    assert_eq!(
        list.iter().filter(|m| m["role"] == "owner").count(),
        1,
        "still one owner"
    );

    // `guest` is not a BoardRole: a 400 with Miro's body, and nobody is invited.
    let (s, err) = api
        .post(
            &share,
            json!({"emails": ["gus@example.com"], "role": "guest"}),
        )
        .await;
    assert_eq!(s, 400, "{err}");
    assert_eq!(assert_error(&err, 400), "invalidParameters");
    assert_eq!(err["context"]["fields"][0]["field"], "role");
    let message = err["context"]["fields"][0]["message"].as_str().unwrap();
    for role in ["viewer", "commenter", "editor", "coowner", "owner"] {
        assert!(message.contains(role), "{message}");
    }
    assert!(!message.contains("guest"), "{message}");
    assert_eq!(members(&api, &b).await.len(), 2);

    // The same on PATCH.
    let olga = members(&api, &b)
        .await
        .into_iter()
        .find(|m| m["name"] == "olga")
        .unwrap();
    let olga = format!("/v2/boards/{b}/members/{}", olga["id"].as_str().unwrap());
    let (s, m) = api
        .call(Method::PATCH, &olga, Some(json!({"role": "viewer"})))
        .await;
    assert_eq!((s.as_u16(), &m["role"]), (200, &json!("viewer")));
    let (s, m) = api
        .call(Method::PATCH, &olga, Some(json!({"role": "owner"})))
        .await;
    assert_eq!((s.as_u16(), &m["role"]), (200, &json!("coowner")));
    let (s, err) = api
        .call(Method::PATCH, &olga, Some(json!({"role": "guest"})))
        .await;
    assert_eq!(s, 400);
    assert_eq!(err["context"]["fields"][0]["field"], "role");
}

#[tokio::test]
async fn malformed_addresses_are_refused_one_by_one() {
    let api = Api::start().await;
    let b = enc(&api.board("emails").await);
    let (s, res) = api
        .post(
            &format!("/v2/boards/{b}/members"),
            json!({"emails": ["a b@example.com", "ann@example.com", "ann@localhost", "x@y@example.com"]}),
        )
        .await;
    assert_eq!(s, 201, "{res}");
    assert_eq!(res["successful"].as_array().unwrap().len(), 1);
    assert_eq!(
        res["failed"],
        json!([
            {"email": "a b@example.com", "reason": "INVITATION_FAILED"},
            {"email": "ann@localhost", "reason": "INVITATION_FAILED"},
            {"email": "x@y@example.com", "reason": "INVITATION_FAILED"},
        ])
    );
    let names: Vec<Value> = members(&api, &b)
        .await
        .iter()
        .map(|m| m["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("Emulator User"), json!("ann")]);
}

#[tokio::test]
async fn reinviting_a_member_keeps_their_role() {
    let api = Api::start().await;
    let b = enc(&api.board("again").await);
    let share = format!("/v2/boards/{b}/members");
    let (_, first) = api
        .post(
            &share,
            json!({"emails": ["ann@example.com"], "role": "editor"}),
        )
        .await;
    let ann = first["successful"][0].clone();

    // Again with a lower role, in another case, twice in one call, and the owner too.
    let (s, again) = api
        .post(
            &share,
            json!({"emails": ["ann@example.com", "ANN@Example.com", "emulator@example.com"], "role": "viewer"}),
        )
        .await;
    assert_eq!(s, 201, "{again}");
    let ids = again["successful"].as_array().unwrap();
    assert_eq!(ids.len(), 2, "each member once: {again}");
    assert_eq!(ids[0], ann, "the same member");
    let list = members(&api, &b).await;
    assert_eq!(list.len(), 2, "nobody new");
    assert_eq!(role_of(&list, "ann"), "editor", "not lowered");
    assert_eq!(role_of(&list, "Emulator User"), "owner");

    // Nor raised: roles change through PATCH only.
    api.post(
        &share,
        json!({"emails": ["ann@example.com"], "role": "coowner"}),
    )
    .await;
    assert_eq!(role_of(&members(&api, &b).await, "ann"), "editor");
}
