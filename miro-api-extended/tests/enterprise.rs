//! The three enterprise helpers against the emulator's organisation.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use miro_api_extended::{PaginationError, PaginationExt};
use miro_emulator::{Emulator, Fault, FaultKind, RunningEmulator};

async fn organisation(members: usize, teams: usize, per_team: usize) -> RunningEmulator {
    Emulator::builder()
        .rate_limit(10_000_000, Duration::from_secs(60))
        .enterprise(members, teams, per_team)
        .start()
        .await
        .expect("the emulator starts")
}

#[tokio::test]
async fn get_all_organization_members_walks_every_member_once() {
    let emu = organisation(347, 0, 0).await;
    let api = common::api(&emu);
    let org = emu.org_id();

    let members: Vec<_> = api
        .get_all_organization_members(&org)
        .try_collect()
        .await
        .unwrap();
    let ids: HashSet<_> = members.iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids.len(), 347, "each member once");
    let emails: HashSet<_> = members.iter().map(|m| m.email.clone()).collect();
    let expected: HashSet<_> = (1..=347)
        .map(|i| format!("member{i}@emulator.example.com"))
        .collect();
    assert_eq!(emails, expected);

    let pages = common::gets(&emu, "/v2/orgs/{org_id}/members");
    assert_eq!(pages.len(), 4, "347 members in pages of 100");
    assert!(pages
        .iter()
        .all(|r| r.query_param("limit").as_deref() == Some("100")));

    // A filter goes with every page.
    let inactive: Vec<_> = api
        .get_all_organization_members(&org)
        .query("active", "false")
        .page_size(10)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(inactive.len(), 347 / 10, "every tenth member is inactive");
    assert!(inactive.iter().all(|m| !m.active));
}

#[tokio::test]
async fn get_all_enterprise_teams_and_their_members_walk_each_entry_once() {
    let emu = organisation(400, 230, 130).await;
    let api = common::api(&emu);
    let org = emu.org_id();

    let teams: Vec<_> = api
        .get_all_enterprise_teams(&org)
        .try_collect()
        .await
        .unwrap();
    let names: HashSet<_> = teams.iter().map(|t| t.name.clone()).collect();
    let expected: HashSet<_> = (1..=230).map(|i| format!("Team {i}")).collect();
    assert_eq!(names, expected);
    assert_eq!(
        teams.iter().map(|t| &t.id).collect::<HashSet<_>>().len(),
        230
    );

    let org_members: HashSet<String> = api
        .get_all_organization_members(&org)
        .map_ok(|m| m.id)
        .try_collect()
        .await
        .unwrap();
    for team in teams.iter().take(3) {
        let members: Vec<_> = api
            .get_all_enterprise_team_members(&org, &team.id)
            .try_collect()
            .await
            .unwrap();
        let ids: HashSet<_> = members.iter().map(|m| m.id.clone()).collect();
        assert_eq!((members.len(), ids.len()), (130, 130), "team {}", team.name);
        assert!(members.iter().all(|m| m.team_id == team.id));
        assert!(ids.is_subset(&org_members));
    }
    // A team larger than a page of 100, in pages of 100.
    let pages = common::gets(&emu, "/v2/orgs/{org_id}/teams/{team_id}/members");
    assert_eq!(pages.len(), 6);
}

#[tokio::test]
async fn a_repeated_enterprise_cursor_ends_the_stream_with_an_error() {
    let emu = organisation(250, 0, 0).await;
    let api = common::api(&emu);
    emu.inject_fault(Fault::new(FaultKind::RepeatedCursor).on("GET /v2/orgs/{org_id}/members"))
        .unwrap();
    let mut stream = api.get_all_organization_members(&emu.org_id());
    let mut ok = 0;
    let mut errors = Vec::new();
    for _ in 0..1_000 {
        match stream.next().await {
            Some(Ok(_)) => ok += 1,
            Some(Err(e)) => errors.push(e),
            None => break,
        }
    }
    assert_eq!(ok, 200);
    assert_eq!(errors.len(), 1);
    assert!(matches!(errors[0], PaginationError::RepeatedCursor { .. }));
}
