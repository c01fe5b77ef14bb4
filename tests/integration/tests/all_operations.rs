//! Every operation of the pinned spec, called through `MiroApi` against the emulator, gets a
//! 2xx and its body decodes. The test walks the generated operations table, so an operation of a
//! newer spec that the generated harness cannot call fails it. Each success status must be one
//! the spec declares for that operation, so the emulator's routes cannot drift from it.

use std::collections::HashMap;

use miro_api::operations::OPERATIONS;
use miro_tests::all_operations::{call, CALLED};
use miro_tests::walk_world::{reached_as, World};
use serde_json::Value;

/// The response statuses the pinned spec declares, by operationId.
fn declared_statuses() -> HashMap<String, Vec<u16>> {
    let spec: Value = serde_json::from_slice(&miro_tests::pinned_spec()).expect("spec is JSON");
    let mut out = HashMap::new();
    for item in spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            let (Some(id), Some(responses)) =
                (op["operationId"].as_str(), op["responses"].as_object())
            else {
                continue;
            };
            let codes = responses.keys().filter_map(|k| k.parse().ok()).collect();
            out.insert(id.to_string(), codes);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_gets_a_2xx_and_decodes() {
    let declared = declared_statuses();
    let world = World::new().await.expect("fixtures");
    assert_eq!(OPERATIONS.len(), 197, "the pinned spec has 197 operations");
    let mut failures = Vec::new();
    let mut called = 0;
    for op in OPERATIONS.iter() {
        let args = match world.args(op).await {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{} ({} {}): {e}", op.id, op.http_method, op.path));
                continue;
            }
        };
        let before = world.emu.requests().len();
        match call(&world.api, op, &args).await {
            Ok(status) if (200..300).contains(&status) => {
                called += 1;
                let codes = declared.get(op.id).map(Vec::as_slice).unwrap_or_default();
                if !codes.contains(&status) {
                    failures.push(format!(
                        "{} ({} {}): the emulator answered {status}, the spec declares {codes:?}",
                        op.id, op.http_method, op.path
                    ));
                }
            }
            Ok(status) => failures.push(format!(
                "{} ({} {}): status {status}",
                op.id, op.http_method, op.path
            )),
            Err(e) => failures.push(format!("{} ({} {}): {e}", op.id, op.http_method, op.path)),
        }
        // The request reached the emulator as this operation.
        if let Err(failure) = reached_as(&world.emu, before, op) {
            failures.push(failure);
        }
    }
    let missing: Vec<&str> = OPERATIONS
        .iter()
        .map(|o| o.method_name)
        .filter(|m| !CALLED.contains(m))
        .collect();
    assert!(missing.is_empty(), "the harness does not call {missing:?}");
    assert!(
        failures.is_empty(),
        "{} of {} operations fail:\n{}",
        failures.len(),
        OPERATIONS.len(),
        failures.join("\n")
    );
    assert_eq!(called, OPERATIONS.len());
}
