use serde_json::json;

use super::*;

fn parse(body: serde_json::Value) -> Result<EventQuery, RequestError> {
    parse_event_query(body.to_string().as_bytes())
}

fn field(path: &str, values: Vec<Value>) -> SearchTerm {
    SearchTerm::Field {
        path: path.into(),
        values,
    }
}

#[test]
fn defaults_follow_the_di_guide() {
    let query = parse(json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z"})).unwrap();
    assert!(query.services.is_empty());
    assert_eq!(query.limit, DEFAULT_LIMIT);
    assert_eq!(query.sort, SortOrder::Asc);
    assert_eq!(query.skip, 0);
    assert_eq!(query.end_time_us, None);
    assert_eq!(query.start_time_us, 1_790_812_800_000_000);
}

#[test]
fn limit_is_capped_and_nonsense_falls_back_to_the_default() {
    let base = |limit: Value| {
        parse(json!({"service": ["sso"], "start_time": "2026-10-01T00:00:00Z", "limit": limit}))
            .unwrap()
            .limit
    };
    assert_eq!(base(json!(50)), 50);
    assert_eq!(base(json!(50_000)), MAX_LIMIT);
    assert_eq!(base(json!(-3)), DEFAULT_LIMIT);
    assert_eq!(base(json!("many")), DEFAULT_LIMIT);
    assert_eq!(base(json!(0)), DEFAULT_LIMIT);
}

#[test]
fn sort_is_case_insensitive_and_defaults_to_ascending() {
    let sort = |s: &str| {
        parse(json!({"service": ["sso"], "start_time": "2026-10-01T00:00:00Z", "sort": s}))
            .unwrap()
            .sort
    };
    assert_eq!(sort("desc"), SortOrder::Desc);
    assert_eq!(sort("DESC"), SortOrder::Desc);
    assert_eq!(sort("sideways"), SortOrder::Asc);
}

#[test]
fn unknown_service_lists_the_valid_ones() {
    let err = parse(json!({"service": ["sso", "nope"], "start_time": "2026-10-01T00:00:00Z"}))
        .unwrap_err();
    assert_eq!(err.field, "service");
    assert!(
        err.message.contains("\"nope\"") && err.message.contains("radius"),
        "{err}"
    );
}

#[test]
fn start_time_is_required_and_must_parse() {
    assert_eq!(
        parse(json!({"service": ["sso"]})).unwrap_err().field,
        "start_time"
    );
    assert_eq!(
        parse(json!({"service": ["sso"], "start_time": "soon"}))
            .unwrap_err()
            .field,
        "start_time"
    );
    assert_eq!(
        parse(json!({"service": ["sso"], "start_time": "2026-10-01T00:00:00Z", "end_time": 5}))
            .unwrap_err()
            .field,
        "end_time"
    );
}

#[test]
fn both_search_term_forms_give_the_same_tree() {
    let list = parse(json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z",
        "search_term": {"and": [{"event_type": "sso_auth"}, {"initiated_by.username": ["jsmith", "ajones"]}]}}))
    .unwrap();
    let map = parse(json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z",
        "search_term": {"and": {"event_type": "sso_auth", "initiated_by.username": ["jsmith", "ajones"]}}}))
    .unwrap();
    let want = SearchTerm::And(vec![
        field("event_type", vec![json!("sso_auth")]),
        field(
            "initiated_by.username",
            vec![json!("jsmith"), json!("ajones")],
        ),
    ]);
    assert_eq!(list.search_term, Some(want.clone()));
    assert_eq!(map.search_term, Some(want));
}

#[test]
fn nested_operators_and_not_parse() {
    let query = parse(
        json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z",
        "search_term": {"or": [{"and": [{"success": "false"}]}, {"not": {"service": "sso"}}]}}),
    )
    .unwrap();
    assert_eq!(
        query.search_term,
        Some(SearchTerm::Or(vec![
            SearchTerm::And(vec![field("success", vec![json!("false")])]),
            SearchTerm::Not(vec![field("service", vec![json!("sso")])]),
        ]))
    );
}

#[test]
fn malformed_search_terms_name_where_they_fail() {
    let err = parse(
        json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z",
        "search_term": {"and": [{"event_type": "x"}, 7]}}),
    )
    .unwrap_err();
    assert_eq!(err.field, "search_term.and[1]");
    let err = parse(
        json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z",
        "search_term": {"and": [{"bad path!": "x"}]}}),
    )
    .unwrap_err();
    assert!(err.message.contains("not a field path"), "{err}");
}

#[test]
fn fields_and_search_after_are_validated() {
    let base = json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z"});
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        parse(body)
    };
    assert_eq!(
        with("fields", json!(["id", "initiated_by.email"]))
            .unwrap()
            .fields,
        vec!["id", "initiated_by.email"]
    );
    assert_eq!(with("fields", json!([])).unwrap_err().field, "fields");
    assert_eq!(with("fields", json!(["a..b"])).unwrap_err().field, "fields");
    assert_eq!(
        with("search_after", json!([1_790_812_800_000_i64, "abc"]))
            .unwrap()
            .search_after,
        Some((1_790_812_800_000, "abc".into()))
    );
    assert_eq!(
        with("search_after", json!(["x"])).unwrap_err().field,
        "search_after"
    );
}

#[test]
fn end_time_must_come_after_start_time() {
    let err = parse(
        json!({"service": ["sso"], "start_time": "2026-10-02T00:00:00Z",
        "end_time": "2026-10-01T00:00:00Z"}),
    )
    .unwrap_err();
    assert_eq!(err.field, "end_time");
}

#[test]
fn distinct_requires_a_field_path() {
    let body = json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z", "field": "initiated_by.email"});
    let query = parse_distinct_query(body.to_string().as_bytes()).unwrap();
    assert_eq!(query.field, "initiated_by.email");
    let body = json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z"});
    assert_eq!(
        parse_distinct_query(body.to_string().as_bytes())
            .unwrap_err()
            .field,
        "field"
    );
    let body = json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z", "field": "a..b"});
    assert_eq!(
        parse_distinct_query(body.to_string().as_bytes())
            .unwrap_err()
            .field,
        "field"
    );
}

#[test]
fn interval_reads_unit_value_and_offset() {
    let body = json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z",
        "interval_unit": "h", "interval_value": "6", "timezone": "-0500"});
    let query = parse_interval_query(body.to_string().as_bytes()).unwrap();
    assert_eq!(query.unit, IntervalUnit::Hour);
    assert_eq!(query.value, 6);
    assert_eq!(query.offset_seconds, -5 * 3600);
    assert_eq!(query.bucket_us(), 6 * 3_600_000_000);
    for (field, bad_body) in [
        ("interval_unit", json!({"interval_unit": "y"})),
        ("interval_unit", json!({})),
        (
            "interval_value",
            json!({"interval_unit": "d", "interval_value": "0"}),
        ),
        (
            "timezone",
            json!({"interval_unit": "d", "timezone": "Mars/Olympus"}),
        ),
    ] {
        let mut body = bad_body;
        body["service"] = json!(["all"]);
        body["start_time"] = json!("2026-10-01T00:00:00Z");
        let err = parse_interval_query(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.field, field, "{body}");
    }
}

#[test]
fn offsets_and_relative_ranges_parse() {
    assert_eq!(parse_utc_offset("Z"), Some(0));
    assert_eq!(parse_utc_offset("+05:30"), Some(19_800));
    assert_eq!(parse_utc_offset("-0500"), Some(-18_000));
    assert_eq!(parse_utc_offset("+99"), None);
    assert_eq!(parse_relative_range("last 24h"), Some(86_400_000_000));
    assert_eq!(parse_relative_range("last 7d"), Some(7 * 86_400_000_000));
    assert_eq!(parse_relative_range("last 0d"), None);
    assert_eq!(parse_relative_range("yesterday"), None);
}
