//! Untagged unions decode by what tells their variants apart (a `contentType`, a `status`
//! beside an `error`, the JSON kind), so each variant comes back as itself and a variant that
//! does not decode reports its own error. Every variant is built from the spec's examples of its
//! schema.

use miro_api::types::{
    DocFormatData, EnterpriseGetOrganizationMembersResponse, PatchGroupResourceOperationsItemValue,
    UpdateUserGroupMembersResultItem,
};
use miro_api_gen::synth::Synth;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

fn fixed_spec() -> Value {
    miro_api_gen::fixed_spec(&miro_tests::pinned_spec())
        .expect("the spec is fixed")
        .0
}

/// A value of a component schema, from the spec's examples.
fn example(spec: &Value, schema: &str) -> Value {
    let reference = json!({"$ref": format!("#/components/schemas/{schema}")});
    Synth::new(spec).value(&reference, None)
}

/// The variant name of a union's `Debug` output.
fn variant<T: std::fmt::Debug>(v: &T) -> String {
    format!("{v:?}").split('(').next().unwrap().to_string()
}

/// Decodes the example of each `(schema, variant)` as `T` and checks the variant.
fn each_variant_comes_back_as_itself<T: DeserializeOwned + std::fmt::Debug>(
    spec: &Value,
    cases: &[(&str, &str)],
) {
    for (schema, expected) in cases {
        let value = example(spec, schema);
        let decoded: T = serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("{schema} {value}: {e}"));
        assert_eq!(variant(&decoded), *expected, "{schema}: {value}");
    }
}

#[test]
fn doc_format_data_decodes_by_content_type() {
    let spec = fixed_spec();
    let cases = [
        ("DocFormatHtmlData", "HtmlData"),
        ("DocFormatMarkdownData", "MarkdownData"),
    ];
    each_variant_comes_back_as_itself::<DocFormatData>(&spec, &cases);
    let markdown: DocFormatData =
        serde_json::from_value(json!({"content": "# t", "contentType": "markdown"})).unwrap();
    assert!(
        matches!(markdown, DocFormatData::MarkdownData(_)),
        "{markdown:?}"
    );
    let err =
        serde_json::from_value::<DocFormatData>(json!({"content": "x", "contentType": "pdf"}))
            .unwrap_err();
    assert!(err.to_string().contains("contentType"), "{err}");
}

#[test]
fn group_member_results_decode_by_status_and_error() {
    let spec = fixed_spec();
    each_variant_comes_back_as_itself::<UpdateUserGroupMembersResultItem>(
        &spec,
        &[
            ("UpdateUserGroupMembersResultSuccess", "Success"),
            ("UpdateUserGroupMembersResultError", "Error"),
        ],
    );
    let failed: UpdateUserGroupMembersResultItem = serde_json::from_value(json!({
        "operation": "addMembers",
        "status": 404,
        "error": {"status": 404, "code": "notFound", "message": "no such user", "type": "error"}
    }))
    .unwrap();
    match failed {
        UpdateUserGroupMembersResultItem::Error(e) => {
            assert_eq!(e.status, Some(404));
            assert!(e.error.is_some(), "the error is kept");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn organization_members_decode_by_kind_and_keep_the_real_error() {
    let spec = fixed_spec();
    each_variant_comes_back_as_itself::<EnterpriseGetOrganizationMembersResponse>(
        &spec,
        &[
            ("OrganizationMembersSearchResponse", "Response"),
            (
                "OrganizationMembersSearchByEmailsResponse",
                "ByEmailsResponse",
            ),
        ],
    );
    let mut page = example(&spec, "OrganizationMembersSearchResponse");
    let member = example(&spec, "OrganizationMember");
    let mut bad = member.clone();
    bad["lastActivityAt"] = json!("not a date");
    page["data"] = json!([bad]);
    let err = serde_json::from_value::<EnterpriseGetOrganizationMembersResponse>(page).unwrap_err();
    let message = err.to_string();
    assert!(
        !message.contains("did not match any variant") && message.contains("Response"),
        "{message}"
    );
    assert!(
        message.contains("input") || message.contains("premature") || message.contains("date"),
        "{message}"
    );
}

#[test]
fn scim_patch_values_decode_by_kind() {
    let array: PatchGroupResourceOperationsItemValue =
        serde_json::from_value(json!([{"value": "u1"}])).unwrap();
    assert!(matches!(
        array,
        PatchGroupResourceOperationsItemValue::Array(_)
    ));
    let string: PatchGroupResourceOperationsItemValue = serde_json::from_value(json!("x")).unwrap();
    assert!(matches!(
        string,
        PatchGroupResourceOperationsItemValue::String(_)
    ));
    let err = serde_json::from_value::<PatchGroupResourceOperationsItemValue>(json!([{"nope": 1}]))
        .unwrap_err();
    assert!(err.to_string().contains("value"), "{err}");
}
