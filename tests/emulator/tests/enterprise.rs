//! The organisation's lists: cursor paging walks every member and team exactly
//! once, `limit` bounds, single reads, filters and the repeated-cursor fault.

mod common;

use std::collections::HashSet;

use common::{assert_error, Api};
use miro_emulator::{Emulator, Fault, FaultKind};
use serde_json::Value;

/// Walks an enterprise list, following `cursor`; returns every entry.
async fn walk(api: &Api, path: &str, limit: Option<usize>) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut q = Vec::new();
        if let Some(l) = limit {
            q.push(format!("limit={l}"));
        }
        if let Some(c) = &cursor {
            q.push(format!("cursor={c}"));
        }
        let url = if q.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", q.join("&"))
        };
        let (s, page) = api.get(&url).await;
        assert_eq!(s, 200, "{page}");
        let data = page["data"].as_array().expect("data");
        assert_eq!(page["size"], data.len(), "{page}");
        assert_eq!(page["limit"], limit.unwrap_or(100), "{page}");
        assert_eq!(page["type"], "cursor-list", "{page}");
        assert!(data.len() <= limit.unwrap_or(100));
        seen.extend(data.iter().cloned());
        match page.get("cursor") {
            Some(c) => {
                assert_eq!(
                    data.len(),
                    limit.unwrap_or(100),
                    "only the last page is short"
                );
                cursor = Some(c.as_str().expect("cursor is a string").to_string());
            }
            None => return seen,
        }
    }
    panic!("cursor paging did not end");
}

fn ids(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect()
}

fn assert_unique(ids: &[String]) {
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an id came twice");
}

#[tokio::test]
async fn organisation_members_page_through_every_member_once() {
    // Listing organisation members is a level-3 operation: walking 250 one by
    // one takes more than the default budget.
    let api = Api::with(
        Emulator::builder()
            .enterprise(250, 0, 0)
            .rate_limit(10_000_000, std::time::Duration::from_secs(60)),
    )
    .await;
    let org = api.emu.org_id();
    let path = format!("/v2/orgs/{org}/members");
    let all = walk(&api, &path, Some(37)).await;
    assert_eq!(all.len(), 250);
    let all_ids = ids(&all);
    assert_unique(&all_ids);
    for m in &all {
        for key in ["id", "email", "license", "role", "type"] {
            assert!(m[key].is_string(), "{key} in {m}");
        }
        assert!(m["active"].is_boolean(), "{m}");
        assert_eq!(m["type"], "organization-member");
    }
    // Other page sizes walk the same members in the same order.
    assert_eq!(ids(&walk(&api, &path, None).await), all_ids);
    assert_eq!(ids(&walk(&api, &path, Some(1)).await).len(), 250);
    assert_eq!(ids(&walk(&api, &path, Some(100)).await), all_ids);
    assert_eq!(ids(&walk(&api, &path, Some(50)).await), all_ids);

    // The default page holds 100 and has a cursor.
    let (_, first) = api.get(&path).await;
    assert_eq!(first["size"], 100);
    assert!(first["cursor"].is_string());

    // One member by id, as listed.
    let (s, one) = api.get(&format!("{path}/{}", all_ids[7])).await;
    assert_eq!(s, 200);
    assert_eq!(one, all[7]);
}

#[tokio::test]
async fn limits_outside_one_to_hundred_are_400() {
    let api = Api::with(Emulator::builder().enterprise(5, 1, 2)).await;
    let org = api.emu.org_id();
    let (_, teams) = api.get(&format!("/v2/orgs/{org}/teams")).await;
    let team = teams["data"][0]["id"].as_str().unwrap().to_string();
    for path in [
        format!("/v2/orgs/{org}/members"),
        format!("/v2/orgs/{org}/teams"),
        format!("/v2/orgs/{org}/teams/{team}/members"),
    ] {
        for bad in ["0", "101", "-1", "x"] {
            let (s, body) = api.get(&format!("{path}?limit={bad}")).await;
            assert_eq!(s, 400, "{path}?limit={bad}: {body}");
            assert_eq!(assert_error(&body, 400), "invalidParameters");
        }
        for good in ["1", "100"] {
            let (s, body) = api.get(&format!("{path}?limit={good}")).await;
            assert_eq!(s, 200, "{path}?limit={good}: {body}");
        }
        let (s, body) = api.get(&format!("{path}?cursor=not-a-cursor")).await;
        assert_eq!(s, 400, "{body}");
    }
}

#[tokio::test]
async fn teams_and_team_members_page_through_everything_once() {
    let api = Api::with(Emulator::builder().enterprise(300, 7, 120)).await;
    let org = api.emu.org_id();
    let teams = walk(&api, &format!("/v2/orgs/{org}/teams"), Some(3)).await;
    assert_eq!(teams.len(), 7);
    let team_ids = ids(&teams);
    assert_unique(&team_ids);
    let (_, members) = api.get(&format!("/v2/orgs/{org}/members?limit=100")).await;
    let org_ids: HashSet<String> = ids(&walk(&api, &format!("/v2/orgs/{org}/members"), None).await)
        .into_iter()
        .collect();
    assert!(members["cursor"].is_string());
    for (team, id) in teams.iter().zip(&team_ids) {
        assert_eq!(team["type"], "team");
        assert!(team["name"].is_string());
        let (s, one) = api.get(&format!("/v2/orgs/{org}/teams/{id}")).await;
        assert_eq!(s, 200);
        assert_eq!(&one, team);

        let path = format!("/v2/orgs/{org}/teams/{id}/members");
        let tm = walk(&api, &path, Some(25)).await;
        assert_eq!(tm.len(), 120);
        let tm_ids = ids(&tm);
        assert_unique(&tm_ids);
        assert_eq!(ids(&walk(&api, &path, None).await), tm_ids);
        for m in &tm {
            assert_eq!(m["teamId"], id.as_str(), "{m}");
            assert_eq!(m["type"], "team-member");
            assert!(org_ids.contains(m["id"].as_str().unwrap()), "{m}");
        }
        let (s, one) = api.get(&format!("{path}/{}", tm_ids[3])).await;
        assert_eq!(s, 200);
        assert_eq!(one, tm[3]);
    }
}

#[tokio::test]
async fn a_team_larger_than_the_organisation_gets_external_members() {
    let api = Api::with(Emulator::builder().enterprise(3, 1, 5)).await;
    let org = api.emu.org_id();
    let (_, teams) = api.get(&format!("/v2/orgs/{org}/teams")).await;
    let team = teams["data"][0]["id"].as_str().unwrap();
    let tm = walk(
        &api,
        &format!("/v2/orgs/{org}/teams/{team}/members"),
        Some(2),
    )
    .await;
    assert_eq!(tm.len(), 5);
    assert_unique(&ids(&tm));
    let external = tm.iter().filter(|m| m["role"] == "non_team").count();
    assert_eq!(external, 2);
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let api = Api::with(Emulator::builder().enterprise(2, 1, 1)).await;
    let org = api.emu.org_id();
    let (_, teams) = api.get(&format!("/v2/orgs/{org}/teams")).await;
    let team = teams["data"][0]["id"].as_str().unwrap().to_string();
    for path in [
        "/v2/orgs/3458764400000000999/members".to_string(),
        "/v2/orgs/3458764400000000999/teams".to_string(),
        format!("/v2/orgs/{org}/members/3458764400000000999"),
        format!("/v2/orgs/{org}/members/nope"),
        format!("/v2/orgs/{org}/teams/3458764400000000999"),
        format!("/v2/orgs/{org}/teams/3458764400000000999/members"),
        format!("/v2/orgs/{org}/teams/{team}/members/3458764400000000999"),
    ] {
        let (s, body) = api.get(&path).await;
        assert_eq!(s, 404, "{path}: {body}");
        assert_eq!(assert_error(&body, 404), "notFound");
    }
}

#[tokio::test]
async fn an_empty_organisation_lists_nothing() {
    let api = Api::start().await;
    let org = api.emu.org_id();
    assert_eq!(org, miro_emulator::DEFAULT_ORG_ID);
    let (s, page) = api.get(&format!("/v2/orgs/{org}/members")).await;
    assert_eq!(s, 200);
    assert_eq!(page["data"], serde_json::json!([]));
    assert_eq!(page["size"], 0);
    assert!(page.get("cursor").is_none());
}

#[tokio::test]
async fn filters_narrow_the_lists() {
    let api = Api::with(Emulator::builder().enterprise(40, 12, 2)).await;
    let org = api.emu.org_id();
    let path = format!("/v2/orgs/{org}/members");
    let all = walk(&api, &path, None).await;

    let inactive = walk(&api, &format!("{path}?active=false"), None).await;
    assert_eq!(
        inactive.len(),
        all.iter().filter(|m| m["active"] == false).count()
    );
    assert!(!inactive.is_empty() && inactive.len() < all.len());
    let admins = walk(
        &api,
        &format!("{path}?role=organization_internal_admin"),
        None,
    )
    .await;
    assert!(!admins.is_empty());
    assert!(admins
        .iter()
        .all(|m| m["role"] == "organization_internal_admin"));
    let (s, body) = api.get(&format!("{path}?role=emperor")).await;
    assert_eq!(s, 400, "{body}");

    // `emails` answers a plain array of the members with those addresses.
    let a = all[3]["email"].as_str().unwrap();
    let b = all[30]["email"].as_str().unwrap();
    let (s, found) = api.get(&format!("{path}?emails={a},{b}")).await;
    assert_eq!(s, 200);
    assert_eq!(found, serde_json::json!([all[3], all[30]]));
    let eleven: Vec<String> = (0..11).map(|i| format!("x{i}@example.com")).collect();
    let (s, _) = api
        .get(&format!("{path}?emails={}", eleven.join(",")))
        .await;
    assert_eq!(s, 400);

    let teams = walk(&api, &format!("/v2/orgs/{org}/teams?name=team%201"), None).await;
    // "Team 1", "Team 10", "Team 11", "Team 12"
    assert_eq!(teams.len(), 4, "{teams:?}");
}

#[tokio::test]
async fn repeated_cursor_fault_applies_to_enterprise_lists() {
    let api = Api::with(Emulator::builder().enterprise(30, 2, 20)).await;
    let org = api.emu.org_id();
    let path = format!("/v2/orgs/{org}/members");
    let (_, first) = api.get(&format!("{path}?limit=10")).await;
    let cursor = first["cursor"].as_str().unwrap().to_string();
    api.emu
        .inject_fault(Fault::new(FaultKind::RepeatedCursor).on("GET /v2/orgs/{org_id}/members"))
        .unwrap();
    // The first page carries no cursor in the request: unchanged.
    let (_, again) = api.get(&format!("{path}?limit=10")).await;
    assert_eq!(again, first);
    let (s, page) = api.get(&format!("{path}?limit=10&cursor={cursor}")).await;
    assert_eq!(s, 200);
    assert_eq!(page["cursor"], cursor.as_str());
    // Even the last page hands the request's cursor back.
    let (_, second) = api.get(&format!("{path}?limit=20&cursor={cursor}")).await;
    assert_eq!(second["cursor"], cursor.as_str());

    let (_, teams) = api.get(&format!("/v2/orgs/{org}/teams")).await;
    let team = teams["data"][0]["id"].as_str().unwrap();
    api.emu.clear_faults();
    api.emu
        .inject_fault(Fault::new(FaultKind::RepeatedCursor))
        .unwrap();
    let tpath = format!("/v2/orgs/{org}/teams/{team}/members");
    let (_, p1) = api.get(&format!("{tpath}?limit=5")).await;
    let c = p1["cursor"].as_str().unwrap();
    let (_, p2) = api.get(&format!("{tpath}?limit=5&cursor={c}")).await;
    assert_eq!(p2["cursor"], c);
}

#[tokio::test]
async fn enterprise_lists_need_a_token_and_carry_rate_limit_headers() {
    let api = Api::with(Emulator::builder().enterprise(3, 1, 1)).await;
    let url = api.url(&format!("/v2/orgs/{}/members", api.emu.org_id()));
    let resp = api.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = api
        .http
        .get(&url)
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-ratelimit-remaining"));
}

#[tokio::test]
async fn teams_are_created_renamed_and_deleted() {
    let api = Api::with(Emulator::builder().enterprise(2, 1, 1)).await;
    let org = api.emu.org_id();
    let (s, team) = api
        .post(
            &format!("/v2/orgs/{org}/teams"),
            serde_json::json!({"name": "Walkers"}),
        )
        .await;
    assert_eq!(s, 201, "{team}");
    assert_eq!(team["name"], "Walkers");
    assert_eq!(team["type"], "team");
    let id = team["id"].as_str().unwrap().to_string();
    let teams = walk(&api, &format!("/v2/orgs/{org}/teams"), None).await;
    assert_eq!(teams.len(), 2);
    assert!(ids(&teams).contains(&id));

    let path = format!("/v2/orgs/{org}/teams/{id}");
    let (s, renamed) = api
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(serde_json::json!({"name": "Runners"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(renamed["name"], "Runners");
    assert_eq!(api.get(&path).await.1["name"], "Runners");
    let (s, body) = api
        .post(&format!("/v2/orgs/{org}/teams"), serde_json::json!({}))
        .await;
    assert_eq!(s, 400, "{body}");

    let (s, _) = api.call(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(s, 204);
    assert_eq!(api.get(&path).await.0, 404);
    let (s, _) = api.call(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn team_members_are_invited_once_updated_and_removed() {
    let api = Api::with(Emulator::builder().enterprise(3, 1, 1)).await;
    let org = api.emu.org_id();
    let (_, teams) = api.get(&format!("/v2/orgs/{org}/teams")).await;
    let team = teams["data"][0]["id"].as_str().unwrap().to_string();
    let members_path = format!("/v2/orgs/{org}/teams/{team}/members");
    let org_members = walk(&api, &format!("/v2/orgs/{org}/members"), None).await;

    // An organisation member not yet in the team.
    let in_team = ids(&walk(&api, &members_path, None).await);
    let outsider = org_members
        .iter()
        .find(|m| !in_team.contains(&m["id"].as_str().unwrap().to_string()))
        .unwrap();
    let (s, invited) = api
        .post(
            &members_path,
            serde_json::json!({"email": outsider["email"], "role": "admin"}),
        )
        .await;
    assert_eq!(s, 201, "{invited}");
    assert_eq!(invited["id"], outsider["id"]);
    assert_eq!(invited["role"], "admin");
    assert_eq!(invited["teamId"], team.as_str());

    // Again: 409.
    let (s, body) = api
        .post(
            &members_path,
            serde_json::json!({"email": outsider["email"]}),
        )
        .await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(assert_error(&body, 409), "conflict");

    // A new address joins the organisation too.
    let (s, newcomer) = api
        .post(
            &members_path,
            serde_json::json!({"email": "new.walker@example.com"}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(newcomer["role"], "member");
    let newcomer_id = newcomer["id"].as_str().unwrap();
    let (s, _) = api
        .get(&format!("/v2/orgs/{org}/members/{newcomer_id}"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(walk(&api, &members_path, None).await.len(), 3);

    let (s, _) = api
        .post(
            &members_path,
            serde_json::json!({"email": "not-an-address"}),
        )
        .await;
    assert_eq!(s, 400);

    let member_path = format!("{members_path}/{newcomer_id}");
    let (s, updated) = api
        .call(
            reqwest::Method::PATCH,
            &member_path,
            Some(serde_json::json!({"role": "admin"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(updated["role"], "admin");
    let (s, _) = api
        .call(
            reqwest::Method::PATCH,
            &member_path,
            Some(serde_json::json!({"role": "emperor"})),
        )
        .await;
    assert_eq!(s, 400);

    let (s, _) = api.call(reqwest::Method::DELETE, &member_path, None).await;
    assert_eq!(s, 204);
    assert_eq!(api.get(&member_path).await.0, 404);
    assert_eq!(walk(&api, &members_path, None).await.len(), 2);
}
