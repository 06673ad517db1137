use super::*;

const GOOD: &str = r#"{"id":"a1","timestamp":"2023-01-14T08:16:06.495Z","service":"directory","event_type":"user_login_attempt","organization":"org1","success":true,"client_ip":"81.2.69.144","initiated_by":{"id":"u1","type":"user","username":"jsmith"},"geoip":{"country_code":"AU"},"mfa":true,"auth_method":"password"}"#;

fn reject(line: &str) -> RejectReason {
    decode_event(line.as_bytes(), None).expect_err(line)
}

#[test]
fn decodes_typed_columns_and_keeps_raw() {
    let event = decode_event(GOOD.as_bytes(), None).unwrap();
    assert_eq!(event.raw, GOOD);
    assert_eq!(event.id, "a1");
    assert_eq!(event.organization, "org1");
    assert_eq!(event.success, Some(true));
    assert_eq!(event.username.as_deref(), Some("jsmith"));
    assert_eq!(event.initiated_by_type.as_deref(), Some("user"));
    assert_eq!(event.geoip_country_code.as_deref(), Some("AU"));
    assert_eq!(event.mfa, Some(true));
}

#[test]
fn raw_excludes_only_surrounding_whitespace() {
    let line = format!("  {GOOD}\r\n");
    assert_eq!(decode_event(line.as_bytes(), None).unwrap().raw, GOOD);
}

#[test]
fn rejects_event_without_each_required_field() {
    for field in ["id", "timestamp", "service", "event_type", "organization"] {
        let mut value: serde_json::Value = serde_json::from_str(GOOD).unwrap();
        value.as_object_mut().unwrap().remove(field);
        assert_eq!(
            reject(&value.to_string()),
            RejectReason::MissingField(field)
        );
    }
}

#[test]
fn rejects_required_field_of_wrong_type() {
    let line = GOOD.replace(r#""id":"a1""#, r#""id":17"#);
    assert_eq!(
        reject(&line),
        RejectReason::WrongType {
            field: "id",
            expected: "a string"
        }
    );
}

#[test]
fn rejects_unparseable_timestamp() {
    let line = GOOD.replace("2023-01-14T08:16:06.495Z", "last tuesday");
    assert_eq!(
        reject(&line),
        RejectReason::BadTimestamp("last tuesday".into())
    );
}

#[test]
fn rejects_non_objects_and_broken_json() {
    assert_eq!(reject("[1,2]"), RejectReason::NotAnObject("an array"));
    assert_eq!(reject("42"), RejectReason::NotAnObject("a number"));
    assert_eq!(reject("   "), RejectReason::NotAnObject("an empty line"));
    assert!(matches!(reject(&GOOD[..40]), RejectReason::InvalidJson(_)));
    assert!(matches!(
        reject(&format!("{GOOD} trailing")),
        RejectReason::InvalidJson(_)
    ));
    let bad_utf8 = [b"{\"id\":\"".as_slice(), &[0xff, 0xfe], b"\"}"].concat();
    assert_eq!(
        decode_event(&bad_utf8, None).unwrap_err(),
        RejectReason::InvalidUtf8 { offset: 7 }
    );
}

#[test]
fn optional_fields_of_any_type_never_reject() {
    let line = GOOD
        .replace(r#""success":true"#, r#""success":{"weird":[1]}"#)
        .replace(r#""client_ip":"81.2.69.144""#, r#""client_ip":["a"]"#)
        .replace(r#""mfa":true"#, r#""mfa":"false""#)
        .replace(r#""geoip":{"country_code":"AU"}"#, r#""geoip":"unknown""#);
    let event = decode_event(line.as_bytes(), None).unwrap();
    assert_eq!(event.success, None);
    assert_eq!(event.client_ip, None);
    assert_eq!(event.mfa, Some(false));
    assert_eq!(event.geoip_country_code, None);
}

#[test]
fn sso_token_success_stands_in_for_success() {
    let line = r#"{"id":"s","timestamp":"2023-01-14T08:16:06Z","service":"sso","event_type":"sso_auth","organization":"o","sso_token_success":false,"application":{"display_label":"Slack"}}"#;
    let event = decode_event(line.as_bytes(), None).unwrap();
    assert_eq!(event.success, Some(false));
    assert_eq!(event.application_name.as_deref(), Some("Slack"));
}

#[test]
fn bound_organization_stamps_or_checks() {
    let without = GOOD.replace(r#""organization":"org1","#, "");
    let stamped = decode_event(without.as_bytes(), Some("org9")).unwrap();
    assert_eq!(stamped.organization, "org9");
    assert_eq!(
        decode_event(GOOD.as_bytes(), Some("org9")).unwrap_err(),
        RejectReason::OrganizationMismatch {
            event: "org1".into(),
            expected: "org9".into()
        }
    );
    assert_eq!(
        decode_event(GOOD.as_bytes(), Some("org1"))
            .unwrap()
            .organization,
        "org1"
    );
}

#[test]
fn escaped_strings_decode() {
    let line = GOOD.replace("jsmith", r#"j\"smith\u00e9"#);
    let event = decode_event(line.as_bytes(), None).unwrap();
    assert_eq!(event.username.as_deref(), Some("j\"smith\u{e9}"));
    assert_eq!(event.raw, line);
}

#[test]
fn rejects_timestamps_outside_1970_to_2200_with_their_own_reason() {
    for (stamp, stored) in [
        ("0000-01-01T00:00:00Z", false),
        ("1969-12-31T23:59:59.999999Z", false),
        ("1970-01-01T00:00:00Z", true),
        ("2199-12-31T23:59:59.999999Z", true),
        ("2200-01-01T00:00:00Z", false),
        ("9999-12-31T23:59:59Z", false),
    ] {
        let line = GOOD.replace("2023-01-14T08:16:06.495Z", stamp);
        match decode_event(line.as_bytes(), None) {
            Ok(_) => assert!(stored, "{stamp} must be rejected"),
            Err(reason) => {
                assert!(!stored, "{stamp}: {reason}");
                assert_eq!(reason, RejectReason::TimestampOutOfRange(stamp.into()));
                assert!(reason.to_string().contains("out of range"), "{reason}");
            }
        }
    }
}

#[test]
fn numbers_out_of_range_in_optional_fields_are_nulls_not_rejections() {
    let line = GOOD
        .replace(r#""success":true"#, r#""success":1e400"#)
        .replace(r#""client_ip":"81.2.69.144""#, r#""client_ip":-1e999"#)
        .replace(r#""mfa":true"#, r#""mfa":123456789012345678901234567890"#);
    let event = decode_event(line.as_bytes(), None).unwrap();
    assert_eq!(event.raw, line, "kept verbatim");
    assert_eq!((event.success, event.mfa), (None, None));
    assert_eq!(event.client_ip, None);
    // In an unknown field, too.
    let line = GOOD.replace(r#""mfa":true"#, r#""mfa":true,"score":1e400,"n":[1e-400]"#);
    assert!(decode_event(line.as_bytes(), None).is_ok());
    // A required field that is such a number has the wrong type.
    let line = GOOD.replace(r#""id":"a1""#, r#""id":1e400"#);
    assert_eq!(
        reject(&line),
        RejectReason::WrongType {
            field: "id",
            expected: "a string"
        }
    );
}

#[test]
fn strings_with_escapes_are_unescaped_and_booleans_may_be_strings() {
    let line = GOOD
        .replace(r#""jsmith""#, r#""j\u0073mith\"\\""#)
        .replace(r#""success":true"#, r#""success":"false""#);
    let event = decode_event(line.as_bytes(), None).unwrap();
    assert_eq!(event.username.as_deref(), Some("jsmith\"\\"));
    assert_eq!(event.success, Some(false));
}
