//! Operations outside the stateful routes answer from the spec: documented
//! status, a body of the success schema, last pages; with authentication, rate
//! limits, faults and the request log as everywhere; 405 for a known path with
//! the wrong method.

mod common;

use std::time::Duration;

use common::{assert_error, Api};
use miro_emulator::{Emulator, FallbackResponse, Fault, FaultKind};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ORG: &str = "3458764400000000111";
const TEAM: &str = "3458764500000000555";

#[tokio::test]
async fn spec_operations_answer_their_documented_status_and_body() {
    let api = Api::start().await;
    let (s, settings) = api
        .get(&format!("/v2/orgs/{ORG}/teams/{TEAM}/settings"))
        .await;
    assert_eq!(s, 200);
    assert!(settings.is_object(), "{settings}");

    let (s, project) = api
        .post(
            &format!("/v2/orgs/{ORG}/teams/{TEAM}/projects"),
            json!({"name": "p"}),
        )
        .await;
    assert_eq!(s, 201, "{project}");
    assert!(project["id"].is_string(), "{project}");

    let resp = api
        .send(
            Method::DELETE,
            &format!("/v2/orgs/{ORG}/teams/{TEAM}/projects/3458764500000000001"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().await.unwrap().is_empty());

    let (s, _) = api
        .call(
            Method::PATCH,
            &format!("/v2/orgs/{ORG}/groups/3458764500000000001/members"),
            Some(json!({"membersToAdd": ["a@example.com"]})),
        )
        .await;
    assert_eq!(s, 207);

    // SCIM: the spec's own example.
    let (s, users) = api.get("/api/v1/scim/Users").await;
    assert_eq!(s, 200);
    assert!(users["Resources"].is_array(), "{users}");
}

#[tokio::test]
async fn spec_pages_are_last_pages() {
    let api = Api::start().await;
    for path in [
        format!("/v2/orgs/{ORG}/teams/{TEAM}/projects"),
        format!("/v2/orgs/{ORG}/cases"),
        "/v2-experimental/boards/uXjVOD6LSME%3D/items".to_string(),
    ] {
        let (s, page) = api.get(&path).await;
        assert_eq!(s, 200, "{path}: {page}");
        assert!(page.get("cursor").is_none(), "{path}: {page}");
        assert!(page["links"].get("next").is_none(), "{path}: {page}");
        if let Some(data) = page["data"].as_array() {
            for key in ["size", "total"] {
                if let Some(n) = page.get(key) {
                    assert_eq!(n, data.len(), "{path}: {key} in {page}");
                }
            }
        }
    }
}

#[tokio::test]
async fn percent_encoded_segments_match_templates() {
    let api = Api::start().await;
    for board in ["uXjVOD6LSME%3D", "a%2Fb", "plain"] {
        let (s, body) = api
            .get(&format!(
                "/v2-experimental/boards/{board}/items/3458764500000000001"
            ))
            .await;
        assert_eq!(s, 200, "{board}: {body}");
    }
    // Literal segments may arrive encoded too.
    let (s, _) = api
        .get(&format!("/v2/orgs/{ORG}/data%2Dclassification-settings"))
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn spec_answers_need_a_token_and_charge_their_level() {
    let api = Api::with(Emulator::builder().rate_limit(10_000, Duration::from_secs(60))).await;
    let url = api.url(&format!("/v2/orgs/{ORG}/teams/{TEAM}/settings"));
    let resp = api.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let remaining = |r: &reqwest::Response| -> u64 {
        r.headers()["x-ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    // enterprise-get-team-settings is level 1 (50 credits).
    let resp = api
        .send(
            Method::GET,
            &format!("/v2/orgs/{ORG}/teams/{TEAM}/settings"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(remaining(&resp), 10_000 - 50);
    // get-mindmap-nodes-experimental is level 2 (100 credits).
    let resp = api
        .send(Method::GET, "/v2-experimental/boards/b/mindmap_nodes", None)
        .await;
    assert_eq!(remaining(&resp), 10_000 - 150);
    // copy-board (a stateful route) is level 4 (2000 credits), even when it fails.
    let resp = api
        .send(Method::PUT, "/v2/boards?copy_from=nope", None)
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(remaining(&resp), 10_000 - 2150);
    // Detaching a tag shares the delete-item path but is a level-1 tag operation.
    let b = api.board("b").await;
    let item = api.sticky(&b, "x").await;
    let before = remaining(&api.send(Method::GET, "/v2/boards", None).await);
    let resp = api
        .send(
            Method::DELETE,
            &format!(
                "/v2/boards/{}/items/{item}?tag_id=3458764500000000001",
                common::enc(&b)
            ),
            None,
        )
        .await;
    assert_eq!(before - remaining(&resp), 50);
}

#[tokio::test]
async fn faults_and_the_log_see_spec_routes() {
    let api = Api::start().await;
    api.emu
        .inject_fault(
            Fault::new(FaultKind::ServerError(503))
                .on("GET /v2/orgs/{o}/teams/{t}/settings")
                .times(1),
        )
        .unwrap();
    let path = format!("/v2/orgs/{ORG}/teams/{TEAM}/settings");
    let resp = api.send(Method::GET, &path, None).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.text().await.unwrap().contains("<html>"));
    let (s, _) = api.get(&path).await;
    assert_eq!(s, 200);

    api.emu
        .inject_fault(Fault::new(FaultKind::ExtraFields).on("GET /api/v1/scim/Users"))
        .unwrap();
    let (_, users) = api.get("/api/v1/scim/Users").await;
    assert!(users.get("emulatorUnknownField").is_some(), "{users}");

    let log = api.emu.requests();
    let last = log.iter().rev().find(|r| r.path == path).unwrap();
    assert_eq!(
        last.route.as_deref(),
        Some("/v2/orgs/{org_id}/teams/{team_id}/settings")
    );
    assert_eq!(last.status, Some(200));
}

#[tokio::test]
async fn a_user_fallback_is_asked_first() {
    let api = Api::with(Emulator::builder().fallback(|req| {
        req.path.ends_with("/settings").then(|| FallbackResponse {
            status: 202,
            body: json!({"mine": true}),
        })
    }))
    .await;
    let (s, b) = api
        .get(&format!("/v2/orgs/{ORG}/teams/{TEAM}/settings"))
        .await;
    assert_eq!(s, 202);
    assert_eq!(b, json!({"mine": true}));
    // Stateful routes are not asked about.
    let (s, _) = api.get("/v2/boards").await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_known_path_with_a_wrong_method_is_405() {
    let api = Api::start().await;
    let b = api.board("b").await;
    for (method, path, allow) in [
        (
            Method::DELETE,
            "/v2/boards".to_string(),
            Some("GET, POST, PUT"),
        ),
        (
            Method::PUT,
            format!(
                "/v2/boards/{}/sticky_notes/3458764500000000001",
                common::enc(&b)
            ),
            Some("DELETE, GET, PATCH"),
        ),
        (
            Method::POST,
            format!("/v2/orgs/{ORG}/teams/{TEAM}/settings"),
            Some("GET, PATCH"),
        ),
        (Method::GET, "/v1/oauth/token".to_string(), Some("POST")),
    ] {
        let resp = api.send(method.clone(), &path, None).await;
        assert_eq!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let header = resp
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(header.as_deref(), allow, "{method} {path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(assert_error(&body, 405), "methodNotAllowed");
    }
    let (s, b) = api.get("/v2/not-an-operation").await;
    assert_eq!(s, 404);
    assert_eq!(assert_error(&b, 404), "notFound");
}

#[tokio::test]
async fn items_of_a_group_are_not_taken_for_a_group_id() {
    let api = Api::start().await;
    let b = api.board("b").await;
    let (s, body) = api
        .get(&format!(
            "/v2/boards/{}/groups/items?group_item_id=3458764500000000001",
            common::enc(&b)
        ))
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        api.emu.requests().last().unwrap().route.as_deref(),
        Some("/v2/boards/{board_id}/groups/items")
    );
}
