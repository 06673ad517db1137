//! The HTTP service end to end: the started binary, a real HTTP client, real keys.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::client::{Answer, receive as send, runtime};
use crate::support::server::{Server, fresh_store, key};
use crate::support::{run, stderr};

const A: &str = "orga";
const B: &str = "orgb";

fn post(
    client: &reqwest::Client,
    url: String,
    key: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    client.post(url).header("x-api-key", key).body(body)
}

fn event(org: Option<&str>, id: &str, ts: &str, extra: Value) -> String {
    let mut event = json!({"id": id, "timestamp": ts, "service": "sso", "event_type": "sso_auth"});
    if let Some(org) = org {
        event["organization"] = json!(org);
    }
    if let (Value::Object(event), Value::Object(extra)) = (&mut event, extra) {
        event.extend(extra);
    }
    event.to_string()
}

/// Waits until `count` events of the key's organization are queryable.
async fn wait_for_count(client: &reqwest::Client, server: &Server, key: &str, count: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = send(post(
            client,
            server.url("/insights/directory/v1/events/count"),
            key,
            json!({"service": ["all"], "start_time": "2000-01-01T00:00:00Z"}).to_string(),
        ))
        .await;
        if answer.status == 200 && answer.json()["count"] == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "count never reached {count}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn keys_roles_and_organizations_isolate_tenants() {
    let (_dir, store) = fresh_store();
    let ingest_a = key(&store, A, "ingest");
    let ingest_b = key(&store, B, "ingest");
    let read_a = key(&store, A, "read");
    let admin_a = key(&store, A, "admin");
    let provider = key(&store, "*", "read");
    let revoked = key(&store, A, "read");
    let server = Server::start(&store, &["--max-body-bytes", "65536"]);
    let client = reqwest::Client::new();
    runtime().block_on(async {
        // Ingest with an organization key: a missing organization is stamped, a foreign one refused.
        let body = [
            event(None, "a1", "2026-10-01T10:00:00Z", json!({"username": "jdoe", "sso_token_success": false})),
            event(Some(A), "a2", "2026-10-01T11:00:00Z", json!({"username": "asmith"})),
            event(Some(B), "smuggled", "2026-10-01T12:00:00Z", json!({})),
            "{not json".to_owned(),
        ]
        .join("\n");
        let answer = send(post(&client, server.url("/api/v1/ingest"), &ingest_a, body).header("content-type", "application/x-ndjson")).await;
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        let reply = answer.json();
        assert_eq!((reply["accepted"].as_u64(), reply["rejected"].as_u64()), (Some(2), Some(2)));
        let lines: Vec<u64> = reply["errors"].as_array().unwrap().iter().map(|e| e["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, [3, 4]);
        assert!(reply["errors"][0]["reason"].as_str().unwrap().contains(B), "{reply}");
        // A JSON array, gzipped, for organization B.
        let array = format!("[{}]", event(None, "b1", "2026-10-01T10:00:00Z", json!({"username": "jdoe"})));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, array.as_bytes()).unwrap();
        let answer = send(post(&client, server.url("/api/v1/ingest"), &ingest_b, gz.finish().unwrap()).header("content-type", "application/gzip")).await;
        assert_eq!(answer.json()["accepted"], 1);
        // Sending the same events again stores nothing twice.
        let again = send(post(&client, server.url("/api/v1/ingest"), &ingest_b, array.clone())).await;
        assert_eq!((again.json()["accepted"].as_u64(), again.json()["duplicates"].as_u64()), (Some(0), Some(1)));
        wait_for_count(&client, &server, &read_a, 2).await;

        let query = |term: Value| json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z", "search_term": term}).to_string();
        let all = json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z"}).to_string();
        let ids = |answer: &Answer| -> Vec<String> {
            answer.json().as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
        };
        let events = server.url("/insights/directory/v1/events");
        let page = send(post(&client, events.clone(), &read_a, all.clone())).await;
        assert_eq!(page.status, 200);
        assert_eq!(ids(&page), ["a1", "a2"]);
        assert_eq!(page.header("x-result-count").unwrap(), "2");
        assert_eq!(page.header("x-limit").unwrap(), "1000");
        assert_eq!(page.header("x-sort").unwrap(), "ASC");
        let after: Value = serde_json::from_str(&page.header("x-search_after").unwrap()).unwrap();
        assert_eq!(after[1], "a2");
        assert_eq!(after[0], 1_790_852_400_000_i64);
        assert_eq!(page.header("x-request-id").unwrap().len(), 36);
        assert_eq!(ids(&send(post(&client, events.clone(), &admin_a, all.clone())).await), ["a1", "a2"]);

        // Attacks: another organization in x-org-id, in search_term, in SQL.
        let foreign = send(post(&client, events.clone(), &read_a, all.clone()).header("x-org-id", B)).await;
        assert!(foreign.error(403).contains(B));
        let both = send(post(&client, events.clone(), &read_a, all.clone()).header("x-org-id", format!("{A},{B}"))).await;
        both.error(403);
        assert!(ids(&send(post(&client, events.clone(), &read_a, query(json!({"organization": B})))).await).is_empty());
        assert!(ids(&send(post(&client, events.clone(), &read_a, query(json!({"or": [{"organization": B}, {"id": "b1"}]})))).await).is_empty());
        let sql = send(post(&client, server.url("/api/v1/sql"), &read_a, json!({"query": "SELECT id, organization FROM events ORDER BY id"}).to_string())).await;
        assert_eq!(sql.json(), json!([{"id": "a1", "organization": A}, {"id": "a2", "organization": A}]));
        let sql = send(post(&client, server.url("/api/v1/sql"), &read_a, json!({"query": format!("SELECT count(*) AS n FROM events WHERE organization = '{B}'")}).to_string())).await;
        assert_eq!(sql.json(), json!([{"n": 0}]));
        send(post(&client, server.url("/api/v1/sql"), &read_a, json!({"query": "DROP TABLE events"}).to_string())).await.error(400);
        // Roles: a read key cannot ingest, an ingest key cannot read.
        let body = event(None, "x1", "2026-10-01T10:00:00Z", json!({}));
        assert!(send(post(&client, server.url("/api/v1/ingest"), &read_a, body.clone())).await.error(403).contains("read"));
        send(post(&client, events.clone(), &ingest_a, all.clone())).await.error(403);
        // A provider key must name the organization, and then sees only it.
        send(post(&client, events.clone(), &provider, all.clone())).await.error(400);
        assert_eq!(ids(&send(post(&client, events.clone(), &provider, all.clone()).header("x-org-id", B)).await), ["b1"]);
        // A revoked key, an unknown key, no key.
        assert_eq!(send(post(&client, events.clone(), &revoked, all.clone())).await.status, 200);
        let revoked_id = revoked.split('_').nth(1).unwrap();
        let output = run(store.parent().unwrap(), &["keys", "--store", store.to_str().unwrap(), "revoke", revoked_id]);
        assert!(output.status.success(), "{}", stderr(&output));
        send(post(&client, events.clone(), &revoked, all.clone())).await.error(401);
        send(post(&client, events.clone(), "ik_0000000000000000_nothing", all.clone())).await.error(401);
        send(client.post(events.clone()).body(all.clone())).await.error(401);
        let listed = run(store.parent().unwrap(), &["keys", "--store", store.to_str().unwrap(), "list"]);
        let listed = String::from_utf8(listed.stdout).unwrap();
        assert!(listed.contains("revoked") && !listed.contains(revoked.split('_').nth(2).unwrap()), "{listed}");

        // Every error status, with its JSON body.
        assert!(send(post(&client, events.clone(), &read_a, json!({"service": ["nope"], "start_time": "2026-10-01T00:00:00Z"}).to_string())).await.error(400).contains("service"));
        assert!(send(post(&client, events.clone(), &read_a, "{")).await.error(400).contains("body"));
        assert!(send(post(&client, server.url("/insights/directory/v1/events/distinct"), &read_a, all.clone())).await.error(400).contains("field"));
        send(client.get(server.url("/nowhere")).header("x-api-key", &read_a)).await.error(404);
        send(client.get(events.clone()).header("x-api-key", &read_a)).await.error(405);
        send(post(&client, server.url("/api/v1/ingest"), &ingest_a, vec![b' '; 100_000])).await.error(413);
        send(post(&client, server.url("/api/v1/ingest"), &ingest_a, "<html/>").header("content-type", "text/html")).await.error(415);
        send(client.get(server.url("/api/v1/views/none")).header("x-api-key", &read_a)).await.error(404);

        // count, distinct, interval in DI shapes
        let count = send(post(&client, server.url("/insights/directory/v1/events/count"), &read_a, all.clone())).await;
        assert_eq!(count.json(), json!({"count": 2}));
        let distinct = send(post(&client, server.url("/insights/directory/v1/events/distinct"), &read_a,
            json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z", "field": "username"}).to_string())).await;
        assert_eq!(distinct.json()["buckets"], json!([{"key": "asmith", "doc_count": 1}, {"key": "jdoe", "doc_count": 1}]));
        let interval = send(post(&client, server.url("/insights/directory/v1/events/interval"), &read_a,
            json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z", "interval_unit": "h"}).to_string())).await;
        assert_eq!(interval.json()["buckets"].as_array().unwrap().len(), 2);

        // enrichment: read keys only, the caller's organization only
        let enrich = server.url("/api/v1/enrich/user/JDOE?at=2026-10-02T00:00:00Z&days=5");
        let report = send(client.get(enrich.clone()).header("x-api-key", &read_a)).await;
        assert_eq!(report.status, 200, "{}", String::from_utf8_lossy(&report.body));
        assert_eq!(report.json()["last_failure"]["sso"]["time"], "2026-10-01T10:00:00.000Z");
        assert_eq!(report.json()["events"], 1);
        let theirs = send(client.get(enrich.clone()).header("x-api-key", &provider).header("x-org-id", B)).await;
        assert_eq!(theirs.json()["events"], 1);
        assert!(theirs.json()["last_failure"]["sso"].is_null());
        send(client.get(enrich.clone()).header("x-api-key", &ingest_a)).await.error(403);
        send(client.get(enrich.clone()).header("x-api-key", &read_a).header("x-org-id", B)).await.error(403);
        let missing = send(client.get(server.url("/api/v1/enrich/host/nowhere?at=2026-10-02T00:00:00Z")).header("x-api-key", &read_a)).await;
        assert!(missing.error(404).contains("nowhere"));
        send(client.get(server.url("/api/v1/enrich/user/jdoe?days=0")).header("x-api-key", &read_a)).await.error(400);

        // views and export
        let view = json!({"name": "failed", "description": "failed logins", "request": {"service": ["sso"], "start_time": "2026-10-01T00:00:00Z", "search_term": {"success": false}}});
        assert_eq!(send(post(&client, server.url("/api/v1/views"), &read_a, view.to_string())).await.status, 201);
        send(post(&client, server.url("/api/v1/views"), &read_a, view.to_string())).await.error(409);
        let listed = send(client.get(server.url("/api/v1/views")).header("x-api-key", &read_a)).await.json();
        assert_eq!(listed[0]["name"], "failed");
        send(client.get(server.url("/api/v1/views/failed")).header("x-api-key", &provider).header("x-org-id", B)).await.error(404);
        let ran = send(post(&client, server.url("/api/v1/views/failed/run"), &read_a, "")).await;
        assert_eq!(ids(&ran), ["a1"]);
        let exported = send(client.get(server.url("/api/v1/export?view=failed&format=csv")).header("x-api-key", &read_a)).await;
        assert_eq!(exported.status, 200);
        assert_eq!(String::from_utf8(exported.body).unwrap().lines().count(), 2);
        let request = urlencode(&all);
        let exported = send(client.get(server.url(&format!("/api/v1/export?request={request}"))).header("x-api-key", &read_a)).await;
        assert_eq!(String::from_utf8(exported.body).unwrap().lines().count(), 2);
        assert_eq!(send(client.delete(server.url("/api/v1/views/failed")).header("x-api-key", &read_a)).await.status, 204);

        // the description of the API, health and metrics
        let openapi = send(client.get(server.url("/api/v1/openapi.json"))).await.json();
        assert!(openapi["paths"]["/insights/directory/v1/events"]["post"].is_object());
        assert!(openapi["paths"]["/api/v1/ingest"]["post"]["responses"]["429"].is_object());
        assert_eq!(send(client.get(server.url("/healthz"))).await.json()["status"], "ok");
        let metrics = String::from_utf8(send(client.get(server.url("/metrics"))).await.body).unwrap();
        assert!(metrics.contains("insights_events_ingested_total 3"), "{metrics}");
        assert!(metrics.contains("insights_events_duplicate_total 1"), "{metrics}");
        assert!(metrics.contains("insights_events_rejected_total 2"), "{metrics}");
        assert!(metrics.contains("insights_request_duration_seconds_count{route=\"events\"}"), "{metrics}");
        assert!(metrics.contains("insights_wal_bytes"), "{metrics}");
    });
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn batch(org: &str, prefix: &str, start: usize, count: usize, day: u32) -> String {
    (start..start + count)
        .map(|i| {
            event(
                Some(org),
                &format!("{prefix}{i:06}"),
                &format!(
                    "2026-10-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
                    (i / 3600) % 24,
                    (i / 60) % 60,
                    i % 60,
                    i % 7
                ),
                json!({"username": format!("u{}", i % 13)}),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn di_paging_returns_every_event_once_while_ingest_continues() {
    let (_dir, store) = fresh_store();
    let ingest = key(&store, A, "ingest");
    let read = key(&store, A, "read");
    let server = Server::start(&store, &[]);
    let client = reqwest::Client::new();
    runtime().block_on(async {
        for part in 0..4 {
            let answer = send(post(&client, server.url("/api/v1/ingest"), &ingest, batch(A, "w", part * 1000, 1000, 5))).await;
            assert_eq!(answer.json()["accepted"], 1000);
        }
        wait_for_count(&client, &server, &read, 4000).await;
        // Ingest goes on while a client pages: new events after the window, and retries of old ones.
        let writer = {
            let client = client.clone();
            let url = server.url("/api/v1/ingest");
            let ingest = ingest.clone();
            tokio::spawn(async move {
                for part in 0..20 {
                    let later = send(post(&client, url.clone(), &ingest, batch(A, "late", part * 500, 500, 9))).await;
                    assert_eq!(later.json()["accepted"], 500);
                    let retry = send(post(&client, url.clone(), &ingest, batch(A, "w", part * 100, 100, 5))).await;
                    assert_eq!(retry.json()["duplicates"], 100);
                }
            })
        };
        let request = json!({"service": ["all"], "start_time": "2026-10-05T00:00:00Z", "end_time": "2026-10-06T00:00:00Z", "limit": 333});
        let mut seen: Vec<String> = Vec::new();
        let mut body = request.clone();
        loop {
            let page = send(post(&client, server.url("/insights/directory/v1/events"), &read, body.to_string())).await;
            assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
            let rows = page.json();
            let rows = rows.as_array().unwrap();
            seen.extend(rows.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
            let count: usize = page.header("x-result-count").unwrap().parse().unwrap();
            let limit: usize = page.header("x-limit").unwrap().parse().unwrap();
            assert_eq!(count, rows.len());
            if count < limit {
                break;
            }
            body = request.clone();
            body["search_after"] = serde_json::from_str(&page.header("x-search_after").unwrap()).unwrap();
        }
        writer.await.unwrap();
        let mut expected: Vec<String> = (0..4000).map(|i| format!("w{i:06}")).collect();
        let mut sorted = seen.clone();
        sorted.sort();
        expected.sort();
        assert_eq!(sorted.len(), seen.len());
        assert_eq!(sorted, expected, "every event of the window exactly once");
    });
}

#[test]
fn overload_answers_429_and_503_with_retry_after() {
    let (_dir, store) = fresh_store();
    let ingest = key(&store, A, "ingest");
    let read = key(&store, A, "read");
    let server = Server::start(
        &store,
        &["--max-queued-ingests", "1", "--max-concurrent-queries", "1"],
    );
    let client = reqwest::Client::new();
    runtime().block_on(async {
        let mut tasks = Vec::new();
        for part in 0..24 {
            let request = post(
                &client,
                server.url("/api/v1/ingest"),
                &ingest,
                batch(A, "o", part * 2000, 2000, 3),
            );
            tasks.push(tokio::spawn(send(request)));
        }
        let mut accepted = 0;
        let mut refused = 0;
        for task in tasks {
            let answer = task.await.unwrap();
            match answer.status {
                200 => accepted += answer.json()["accepted"].as_u64().unwrap(),
                429 => {
                    assert_eq!(answer.header("retry-after").unwrap(), "1");
                    answer.error(429);
                    refused += 1;
                }
                other => panic!("unexpected {other}"),
            }
        }
        assert!(refused > 0, "a queue of one never filled");
        wait_for_count(&client, &server, &read, accepted).await;

        let mut tasks = Vec::new();
        for _ in 0..12 {
            let body =
                json!({"service": ["all"], "start_time": "2026-10-01T00:00:00Z", "q": "u1 sso"})
                    .to_string();
            tasks.push(tokio::spawn(send(post(
                &client,
                server.url("/insights/directory/v1/events/count"),
                &read,
                body,
            ))));
        }
        let mut busy = 0;
        for task in tasks {
            let answer = task.await.unwrap();
            if answer.status == 503 {
                assert_eq!(answer.header("retry-after").unwrap(), "1");
                answer.error(503);
                busy += 1;
            } else {
                assert_eq!(answer.status, 200);
            }
        }
        assert!(busy > 0, "one query slot never ran out");
    });
}

#[test]
fn sigkill_during_http_ingest_loses_no_acknowledged_event_and_sigterm_flushes() {
    let (_dir, store) = fresh_store();
    let ingest = key(&store, A, "ingest");
    let read = key(&store, A, "read");
    let mut server = Server::start(&store, &["--flush-age-ms", "60000"]);
    let client = reqwest::Client::new();
    let acknowledged = runtime().block_on(async {
        let url = server.url("/api/v1/ingest");
        let sender = {
            let client = client.clone();
            let ingest = ingest.clone();
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for part in 0..400 {
                    match client
                        .post(url.clone())
                        .header("x-api-key", &ingest)
                        .body(batch(A, "k", part * 250, 250, 7))
                        .send()
                        .await
                    {
                        Ok(response) if response.status() == 200 => acknowledged.push(part),
                        _ => break,
                    }
                }
                acknowledged
            })
        };
        tokio::time::sleep(Duration::from_millis(1500)).await;
        server.kill();
        sender.await.unwrap()
    });
    assert!(
        !acknowledged.is_empty(),
        "nothing was acknowledged before the kill"
    );
    let mut server = Server::start(&store, &[]);
    runtime().block_on(async {
        // Every acknowledged batch is there after the restart, and nothing twice.
        let body = json!({"query": "SELECT id, count(*) AS n FROM events GROUP BY id HAVING count(*) > 1"}).to_string();
        let minimum = acknowledged.len() as u64 * 250;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let count = send(post(&client, server.url("/insights/directory/v1/events/count"), &read,
                json!({"service": ["all"], "start_time": "2026-10-07T00:00:00Z"}).to_string())).await.json()["count"].as_u64().unwrap();
            if count >= minimum {
                break;
            }
            assert!(Instant::now() < deadline, "only {count} of {minimum} acknowledged events after restart");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(send(post(&client, server.url("/api/v1/sql"), &read, body)).await.json(), json!([]));
        for part in &acknowledged {
            let id = format!("k{:06}", part * 250);
            let found = send(post(&client, server.url("/insights/directory/v1/events/count"), &read,
                json!({"service": ["all"], "start_time": "2026-10-07T00:00:00Z", "search_term": {"id": id}}).to_string())).await;
            assert_eq!(found.json()["count"], 1, "{id}");
        }
        // Events buffered when SIGTERM arrives are committed before the process exits.
        let answer = send(post(&client, server.url("/api/v1/ingest"), &ingest, batch(A, "t", 0, 10, 8))).await;
        assert_eq!(answer.json()["accepted"], 10);
    });
    server.terminate();
    let output = run(
        store.parent().unwrap(),
        &[
            "count",
            "--store",
            store.to_str().unwrap(),
            "--start",
            "2026-10-08T00:00:00Z",
            "--end",
            "2026-10-09T00:00:00Z",
        ],
    );
    assert_eq!(
        crate::support::stdout(&output).trim(),
        r#"{"count":10}"#,
        "{}",
        stderr(&output)
    );
}

/// The nice value of each thread of `pid`, by thread name.
#[cfg(target_os = "linux")]
fn thread_nice_values(pid: u32) -> Vec<(String, i64)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let stat = std::fs::read_to_string(task.unwrap().path().join("stat")).unwrap();
        // "tid (name) state ppid ...": the nice value is the 19th field, the 17th after ")".
        let (head, rest) = stat.rsplit_once(')').unwrap();
        let name = head.split_once('(').unwrap().1.to_owned();
        let nice = rest.split_whitespace().nth(16).unwrap().parse().unwrap();
        threads.push((name, nice));
    }
    threads
}

#[cfg(target_os = "linux")]
#[test]
fn serve_runs_with_the_allocator_keeping_freed_memory_ten_seconds() {
    let (_dir, store) = fresh_store();
    let server = Server::start(&store, &[]);
    let environ = std::fs::read(format!("/proc/{}/environ", server.child.id())).unwrap();
    let settings: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
    assert!(
        settings.contains(&&b"MIMALLOC_PURGE_DELAY=10000"[..]),
        "the server re-executes itself with mimalloc's purge delay set: {:?}",
        String::from_utf8_lossy(&environ)
    );
}

#[cfg(target_os = "linux")]
#[test]
fn ingest_runs_on_threads_of_its_own_below_the_queries_priority() {
    let (_dir, store) = fresh_store();
    let ingest = key(&store, A, "ingest");
    let read = key(&store, A, "read");
    let server = Server::start(&store, &["--ingest-nice", "7"]);
    let client = reqwest::Client::new();
    runtime().block_on(async {
        let answer = send(post(
            &client,
            server.url("/api/v1/ingest"),
            &ingest,
            batch(A, "n", 0, 300, 9),
        ))
        .await;
        assert_eq!(answer.json()["accepted"], 300);
        wait_for_count(&client, &server, &read, 300).await;
    });
    let threads = thread_nice_values(server.child.id());
    let of = |wanted: &str| -> Vec<i64> {
        threads
            .iter()
            .filter(|(name, _)| name == wanted)
            .map(|(_, nice)| *nice)
            .collect()
    };
    let (ingest_threads, query_threads) = (of("ingest"), of("tokio-rt-worker"));
    assert!(ingest_threads.len() >= 2, "ingest threads: {threads:?}");
    assert!(!query_threads.is_empty(), "query threads: {threads:?}");
    let base = query_threads[0];
    assert!(
        query_threads.iter().all(|nice| *nice == base),
        "{threads:?}"
    );
    assert!(
        ingest_threads
            .iter()
            .all(|nice| *nice == (base + 7).min(19)),
        "every ingest thread runs 7 below the query threads: {threads:?}"
    );

    // Out of range: a clear error that names the option.
    let output = run(
        store.parent().unwrap(),
        &[
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--ingest-nice",
            "20",
        ],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--ingest-nice"),
        "{}",
        stderr(&output)
    );
}
