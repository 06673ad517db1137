//! Property tests with generated inputs, in the default test run: the event decoder and the DI
//! request parser never panic, whatever bytes they are given, and what they accept holds what
//! they promise. The inputs are seeded (`INSIGHTS_PROPERTY_SEED`), so a failure can be replayed;
//! `INSIGHTS_PROPERTY_CASES` multiplies the number of cases.

use serde_json::{Value, json};

use crate::request::{
    EventQuery, MAX_FIELDS, MAX_LIMIT, MAX_Q_WORDS, MAX_SEARCH_DEPTH, MAX_SEARCH_TERMS,
    MAX_SEARCH_VALUES, SearchTerm, parse_event_query,
};
use crate::{MAX_TIMESTAMP_US, MIN_TIMESTAMP_US, decode_event};

/// xorshift64*, seeded.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn seed() -> u64 {
    std::env::var("INSIGHTS_PROPERTY_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_0001)
}

fn cases(base: usize) -> usize {
    let factor = std::env::var("INSIGHTS_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1);
    base * factor.max(1)
}

const TEXTS: &[&str] = &[
    "",
    " ",
    "sso",
    "directory",
    "jsmith",
    "J.Smith@Example.com",
    "é",
    "\u{2028}",
    "null",
    "true",
    "2023-01-14T08:16:06.495Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2023-01-14T08:16:06.123456789Z",
    "2023-01-14",
    "not a time",
    "\\",
    "\"",
    "%_",
];
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1e400",
    "-1e999",
    "1e-400",
    "123456789012345678901234567890",
    "1.5",
    "-0.0",
];
const KEYS: &[&str] = &[
    "id",
    "timestamp",
    "service",
    "event_type",
    "organization",
    "success",
    "sso_token_success",
    "client_ip",
    "username",
    "initiated_by",
    "resource",
    "system",
    "application",
    "geoip",
    "auth_method",
    "mfa",
    "error_message",
    "changes",
    "@version",
    "",
    "é",
    "type",
    "email",
    "hostname",
    "name",
    "country_code",
];

/// A random JSON value, as text, nested at most `depth` deep.
fn value(rng: &mut Rng, depth: usize) -> String {
    match rng.below(if depth == 0 { 4 } else { 6 }) {
        0 => serde_json::to_string(rng.pick(TEXTS)).unwrap_or_default(),
        1 => rng.pick(NUMBERS).to_string(),
        2 => rng.pick(&["true", "false", "null"]).to_string(),
        3 => format!("\"{}\"", "x".repeat(rng.below(300))),
        4 => {
            let items: Vec<String> = (0..rng.below(4)).map(|_| value(rng, depth - 1)).collect();
            format!("[{}]", items.join(","))
        }
        _ => object(rng, depth - 1),
    }
}

fn object(rng: &mut Rng, depth: usize) -> String {
    let fields: Vec<String> = (0..rng.below(8))
        .map(|_| {
            let key = serde_json::to_string(rng.pick(KEYS)).unwrap_or_default();
            format!("{key}:{}", value(rng, depth))
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// A valid event with random optional fields.
fn event(rng: &mut Rng) -> String {
    let stamp = rng.pick(&[
        "2023-01-14T08:16:06.495Z",
        "1970-01-01T00:00:00Z",
        "2199-12-31T23:59:59.999999999Z",
        "2026-10-01T00:00:00+05:30",
    ]);
    let mut text = format!(
        r#"{{"id":"e{}","timestamp":"{stamp}","service":"sso","event_type":"sso_auth","organization":"o1""#,
        rng.next()
    );
    for _ in 0..rng.below(6) {
        let key = serde_json::to_string(rng.pick(KEYS)).unwrap_or_default();
        text.push_str(&format!(",{key}:{}", value(rng, 3)));
    }
    text.push('}');
    text
}

/// Damages text the way transports and producers do: cuts, insertions, swapped bytes, nesting.
fn mutate(rng: &mut Rng, text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(7) {
            0 => bytes.truncate(at),
            1 => {
                let end = (at + rng.below(16)).min(bytes.len());
                bytes.drain(at..end);
            }
            2 => bytes.insert(at, rng.next() as u8),
            3 => bytes
                .splice(
                    at..at,
                    rng.pick(&[
                        &b"{"[..],
                        b"}",
                        b"[",
                        b"]",
                        b",",
                        b":",
                        b"\"",
                        b"\\u",
                        b"\xff\xfe",
                    ])
                    .iter()
                    .copied(),
                )
                .for_each(drop),
            4 => bytes
                .splice(at..at, rng.pick(NUMBERS).bytes())
                .for_each(drop),
            5 => {
                let depth = 1 + rng.below(200);
                let mut nested = "[".repeat(depth).into_bytes();
                nested.extend(std::iter::repeat_n(b']', depth));
                bytes.splice(at..at, nested).for_each(drop);
            }
            _ => {
                if let Some(byte) = bytes.get_mut(at) {
                    *byte ^= 1 << rng.below(8);
                }
            }
        }
    }
    bytes
}

#[test]
fn the_decoder_never_panics_and_what_it_accepts_is_whole() {
    let mut rng = Rng(seed());
    let total = cases(200_000);
    let mut accepted = 0;
    for case in 0..total {
        let input = match case % 3 {
            0 => event(&mut rng).into_bytes(),
            1 => {
                let valid = event(&mut rng);
                mutate(&mut rng, &valid)
            }
            _ => object(&mut rng, 4).into_bytes(),
        };
        let bound = (case % 5 == 0).then_some("o1");
        match decode_event(&input, bound) {
            Ok(decoded) => {
                accepted += 1;
                let text = std::str::from_utf8(&input).expect("accepted input is UTF-8");
                assert!(
                    text.contains(decoded.raw),
                    "case {case}: raw is a slice of the input"
                );
                assert!(
                    serde_json::from_str::<serde::de::IgnoredAny>(decoded.raw).is_ok(),
                    "case {case}: raw is one JSON text"
                );
                assert!(!decoded.id.trim().is_empty(), "case {case}");
                assert!(
                    (MIN_TIMESTAMP_US..MAX_TIMESTAMP_US).contains(&decoded.timestamp_us),
                    "case {case}"
                );
            }
            Err(reason) => assert!(!reason.to_string().is_empty(), "case {case}"),
        }
    }
    eprintln!("decoder: {total} generated inputs, {accepted} accepted, no panic");
    // The generator must reach both outcomes, or it tests nothing.
    assert!(
        accepted > total / 10 && accepted < total,
        "{accepted} of {total} accepted"
    );
}

/// A random `search_term`, possibly beyond the limits; `nodes` bounds the size of the tree.
fn search_term(rng: &mut Rng, depth: usize, nodes: &mut usize) -> Value {
    *nodes = nodes.saturating_sub(1);
    let field = |rng: &mut Rng| {
        let path = rng
            .pick(&[
                "username",
                "service",
                "success",
                "initiated_by.email",
                "a.b.c",
                "bad path",
                "",
                "x".repeat(300).as_str(),
            ])
            .to_string();
        let values: Vec<Value> = (0..1 + rng.below(3))
            .map(|_| serde_json::from_str(&value(rng, 1)).unwrap_or(Value::Null))
            .collect();
        match rng.below(40) {
            0..=9 => json!({ path: values }),
            10 => {
                json!({ path: (0..rng.below(1_200)).map(|i| format!("v{i}")).collect::<Vec<_>>() })
            }
            _ => json!({ path: values[0] }),
        }
    };
    if depth == 0 || *nodes == 0 || rng.below(3) == 0 {
        return field(rng);
    }
    let operator = *rng.pick(&["and", "or", "not", "AND", "Or"]);
    let children: Vec<Value> = if rng.below(20) == 0 {
        // Wide: hundreds of plain fields, around the limit on terms.
        (0..rng.below(300))
            .map(|i| json!({"username": format!("u{i}")}))
            .collect()
    } else {
        (0..rng.below(4))
            .map(|_| search_term(rng, depth - 1, nodes))
            .collect()
    };
    if rng.below(4) == 0 {
        let mut map = serde_json::Map::new();
        for child in children {
            if let Value::Object(child) = child {
                map.extend(child);
            }
        }
        json!({ operator: map })
    } else {
        json!({ operator: children })
    }
}

fn request(rng: &mut Rng) -> Value {
    // Mostly what clients send, now and then something odd: a request with every field odd
    // tests only the first check.
    let odd = |rng: &mut Rng, usual: Value, odd: &[Value]| {
        if rng.below(8) == 0 {
            rng.pick(odd).clone()
        } else {
            usual
        }
    };
    let mut body = json!({
        "service": odd(rng, json!(["all"]), &[json!(["sso", "workflows"]), json!("sso"), json!([]), json!(["nope"]), json!(7), json!(vec!["sso"; 70])]),
        "start_time": odd(rng, json!("2026-10-01T00:00:00Z"), &[json!("yesterday"), json!(1), json!(null)]),
    });
    let depth = 1 + rng.below(20);
    let words = if rng.below(8) == 0 {
        20 + rng.below(20)
    } else {
        rng.below(5)
    };
    let paths = if rng.below(8) == 0 {
        90 + rng.below(30)
    } else {
        1 + rng.below(5)
    };
    let extra: [(&str, Value); 8] = [
        (
            "end_time",
            odd(
                rng,
                json!("2026-10-02T00:00:00Z"),
                &[json!("2026-09-01T00:00:00Z"), json!(false)],
            ),
        ),
        ("search_term", search_term(rng, depth, &mut 60)),
        (
            "q",
            json!(
                (0..words)
                    .map(|i| format!("w{i}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
        (
            "fields",
            json!((0..paths).map(|i| format!("f{i}.x")).collect::<Vec<_>>()),
        ),
        (
            "limit",
            odd(
                rng,
                json!(10),
                &[json!(0), json!(-5), json!(1e20), json!("x"), json!(20_000)],
            ),
        ),
        (
            "skip",
            odd(rng, json!(0), &[json!(-1), json!(3.5), json!(null)]),
        ),
        (
            "search_after",
            odd(
                rng,
                json!([1, "id"]),
                &[json!([]), json!(["1", "id"]), json!([1]), json!("x")],
            ),
        ),
        ("sort", odd(rng, json!("DESC"), &[json!("asc"), json!(1)])),
    ];
    for (key, value) in extra {
        if rng.below(2) == 0 {
            body[key] = value;
        }
    }
    body
}

/// Depth, operators and fields, and values of a parsed search term.
fn measure(term: &SearchTerm, depth: usize, totals: &mut (usize, usize, usize)) {
    totals.0 = totals.0.max(depth);
    match term {
        SearchTerm::And(children) | SearchTerm::Or(children) | SearchTerm::Not(children) => {
            totals.1 += 1;
            for child in children {
                measure(child, depth + 1, totals);
            }
        }
        SearchTerm::Field { values, .. } => {
            totals.1 += 1;
            totals.2 += values.len();
        }
    }
}

fn check_limits(query: &EventQuery, case: usize) {
    assert!((1..=MAX_LIMIT).contains(&query.limit), "case {case}");
    assert!(query.fields.len() <= MAX_FIELDS, "case {case}");
    if let Some(q) = &query.q {
        assert!(q.split_whitespace().count() <= MAX_Q_WORDS, "case {case}");
    }
    if let Some(term) = &query.search_term {
        let mut totals = (0, 0, 0);
        measure(term, 1, &mut totals);
        // A bare map of fields adds one `and` level of its own.
        assert!(
            totals.0 <= MAX_SEARCH_DEPTH + 1,
            "case {case}: depth {}",
            totals.0
        );
        assert!(
            totals.1 <= MAX_SEARCH_TERMS * 2,
            "case {case}: {} terms",
            totals.1
        );
        assert!(
            totals.2 <= MAX_SEARCH_VALUES,
            "case {case}: {} values",
            totals.2
        );
    }
}

#[test]
fn the_request_parser_never_panics_and_what_it_accepts_is_within_the_limits() {
    let mut rng = Rng(seed() ^ 0xabcdef);
    let total = cases(20_000);
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..total {
        let body = request(&mut rng).to_string();
        let input = if case % 4 == 3 {
            mutate(&mut rng, &body)
        } else {
            body.into_bytes()
        };
        match parse_event_query(&input) {
            Ok(query) => {
                accepted += 1;
                check_limits(&query, case);
            }
            Err(error) => {
                refused += 1;
                assert!(
                    !error.field.is_empty() && !error.message.is_empty(),
                    "case {case}"
                );
            }
        }
    }
    eprintln!(
        "request parser: {total} generated bodies, {accepted} accepted, {refused} refused, no panic"
    );
    assert!(
        accepted > total / 20 && refused > total / 20,
        "{accepted} accepted, {refused} refused of {total}"
    );
}
