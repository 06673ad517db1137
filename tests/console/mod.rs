//! The web console in a real browser: headless Chromium driven over WebDriver against
//! `insights serve` on a loopback port, with generated events in two organizations. What the
//! console shows is checked against what the DI API answers for the same request.

mod webdriver;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::support::client::{receive, runtime};
use crate::support::server::{Server, key};
use crate::support::{generate, ingest_into};
use webdriver::{Browser, Driver};

/// Events of two organizations over the 5 days before today; the first organization has most.
struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    server: Server,
    org_a: String,
    org_b: String,
    read_a: String,
    admin: String,
    /// Usernames that only the second organization's events name.
    only_b_users: BTreeSet<String>,
}

/// A host that 30 users signed in to, for the enrichment panel's "25 of 30".
const KIOSK: &str = "shared-kiosk-01";

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    // The console's presets end now: the events are of the five days before today.
    let today = chrono::Utc::now().date_naive();
    let start = (today - chrono::Days::new(5)).to_string();
    let input = generate(
        dir.path(),
        "events.ndjson",
        &[
            "--events", "30000", "--orgs", "2", "--days", "5", "--start", &start,
        ],
    );
    let text = std::fs::read_to_string(&input).unwrap();
    let mut per_org: BTreeMap<String, u64> = BTreeMap::new();
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        let org = event["organization"].as_str().unwrap().to_owned();
        *per_org.entry(org.clone()).or_default() += 1;
        for name in [&event["username"], &event["initiated_by"]["username"]] {
            if let Some(name) = name.as_str() {
                users
                    .entry(org.clone())
                    .or_default()
                    .insert(name.to_lowercase());
            }
        }
    }
    let mut orgs: Vec<(String, u64)> = per_org.into_iter().collect();
    orgs.sort_by_key(|org| std::cmp::Reverse(org.1));
    assert_eq!(orgs.len(), 2, "two organizations");
    let (org_a, org_b) = (orgs[0].0.clone(), orgs[1].0.clone());
    let only_b_users: BTreeSet<String> =
        users[&org_b].difference(&users[&org_a]).cloned().collect();
    assert!(
        !only_b_users.is_empty(),
        "the second organization has users of its own"
    );

    // 30 users sign in to one host of the first organization, an hour before today.
    let mut kiosk = String::new();
    for n in 0..30 {
        let at = today.and_hms_opt(0, 0, 0).unwrap().and_utc() - chrono::Duration::minutes(60 - n);
        kiosk.push_str(
            &json!({"id": format!("kiosk{n:02}"), "organization": org_a, "service": "systems",
                "event_type": "user_login_attempt", "success": true,
                "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "username": format!("kiosk.user{n:02}"),
                "system": {"id": "kiosk-sys", "hostname": KIOSK}})
            .to_string(),
        );
        kiosk.push('\n');
    }
    let kiosk_file = dir.path().join("kiosk.ndjson");
    std::fs::write(&kiosk_file, kiosk).unwrap();

    let store = dir.path().join("store");
    ingest_into(dir.path(), &input, &store);
    ingest_into(dir.path(), &kiosk_file, &store);
    let read_a = key(&store, &org_a, "read");
    let admin = key(&store, "*", "admin");
    let server = Server::start(&store, &[]);
    Fixture {
        dir: dir.path().to_owned(),
        _dir: dir,
        server,
        org_a,
        org_b,
        read_a,
        admin,
        only_b_users,
    }
}

/// Calls the engine's HTTP API as a client would.
fn api(server: &Server, key: &str, org: Option<&str>, path: &str, body: Option<Value>) -> Vec<u8> {
    let client = reqwest::Client::new();
    let url = server.url(path);
    let mut request = match &body {
        Some(body) => client.post(&url).body(body.to_string()),
        None => client.get(&url),
    };
    request = request.header("x-api-key", key);
    if let Some(org) = org {
        request = request.header("x-org-id", org);
    }
    let answer = runtime().block_on(receive(request));
    assert!(
        answer.status < 300,
        "{path}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.body
}

/// Every event of a DI request, newest first, paged through the DI API: (id, stored text).
fn di_events(server: &Server, key: &str, request: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut body = request.clone();
    body["sort"] = "DESC".into();
    body["limit"] = 1000.into();
    loop {
        let client = reqwest::Client::new();
        let answer = runtime().block_on(receive(
            client
                .post(server.url("/insights/directory/v1/events"))
                .header("x-api-key", key)
                .body(body.to_string()),
        ));
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let page: Vec<Box<RawValue>> = serde_json::from_slice(&answer.body).unwrap();
        for raw in &page {
            let event: Value = serde_json::from_str(raw.get()).unwrap();
            out.push((
                event["id"].as_str().unwrap().to_owned(),
                raw.get().to_owned(),
            ));
        }
        if page.len() < 1000 {
            return out;
        }
        body["search_after"] =
            serde_json::from_str(&answer.header("x-search_after").unwrap()).unwrap();
    }
}

fn count(server: &Server, key: &str, request: &Value) -> u64 {
    let body = api(
        server,
        key,
        None,
        "/insights/directory/v1/events/count",
        Some(request.clone()),
    );
    serde_json::from_slice::<Value>(&body).unwrap()["count"]
        .as_u64()
        .unwrap()
}

/// The number the console shows in `css`, without its thousands separators.
fn shown_number(browser: &Browser, css: &str) -> u64 {
    browser.text(css).replace(',', "").parse().unwrap()
}

/// Waits until the console has finished the screen's queries after `before`.
fn wait_loaded(browser: &Browser, before: u64) -> u64 {
    browser.wait_for(
        &format!("Number(document.body.dataset.loaded || 0) > {before}"),
        "the console's queries",
    );
    loaded(browser)
}

fn loaded(browser: &Browser) -> u64 {
    browser
        .script(
            "return Number(document.body.dataset.loaded || 0);",
            json!([]),
        )
        .as_u64()
        .unwrap()
}

/// Scrolls the events table until every row is loaded; returns the rows' ids in order and how
/// many scrolls it took.
fn scroll_all(browser: &Browser) -> (Vec<String>, usize) {
    let mut scrolls = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = browser.text("#rows-status");
        if status.ends_with("all shown") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the table never said all rows were shown: {status}"
        );
        let rows = row_ids(browser).len();
        browser.script(
            "document.getElementById('sentinel').scrollIntoView();",
            json!([]),
        );
        scrolls += 1;
        browser.wait_for(
            &format!(
                "document.querySelectorAll('#events-body tr').length > {rows} || \
                 document.getElementById('rows-status').textContent.endsWith('all shown')"
            ),
            "the next page",
        );
    }
    (row_ids(browser), scrolls)
}

fn row_ids(browser: &Browser) -> Vec<String> {
    let ids = browser.script(
        "return [...document.querySelectorAll('#events-body tr')].map((r) => r.dataset.id);",
        json!([]),
    );
    ids.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The DI request of the console's current screen: its window, as the page shows it, and the
/// filters given.
fn window_request(browser: &Browser, filters: Value) -> Value {
    let range = browser.script(
        "const l = document.getElementById('range-label'); return [l.dataset.start, l.dataset.end];",
        json!([]),
    );
    let mut request = filters;
    request["start_time"] = range[0].clone();
    request["end_time"] = range[1].clone();
    request
}

fn sign_in(browser: &Browser, key: &str) -> u64 {
    let before = loaded(browser);
    browser.wait_for(
        "!document.getElementById('signin').hidden",
        "the sign-in screen",
    );
    browser.type_into("#signin-key", key);
    browser.click("#signin-submit");
    wait_loaded(browser, before)
}

/// A file the browser finished downloading into `dir` whose name ends with `extension`.
fn downloaded(dir: &Path, extension: &str) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.to_string_lossy().ends_with(extension));
        if let Some(path) = found {
            return path;
        }
        assert!(
            Instant::now() < deadline,
            "no {extension} download in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Console errors of the page: entries of level SEVERE, except those `expected` names.
fn console_errors(browser: &Browser, expected: &[&str]) -> Vec<String> {
    browser
        .log("browser")
        .into_iter()
        .filter(|entry| entry["level"] == "SEVERE")
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
        .filter(|message| !expected.iter().any(|e| message.contains(e)))
        .collect()
}

/// Every URL the page requested, from the DevTools network events.
fn requested_urls(browser: &Browser) -> Vec<String> {
    browser
        .log("performance")
        .into_iter()
        .filter_map(|entry| serde_json::from_str::<Value>(entry["message"].as_str()?).ok())
        .filter(|m| m["message"]["method"] == "Network.requestWillBeSent")
        .filter_map(|m| {
            Some(
                m["message"]["params"]["request"]["url"]
                    .as_str()?
                    .to_owned(),
            )
        })
        .collect()
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
}

/// Every request over the network went to the service under test. (The browser's own pages,
/// `chrome://` and `chrome-untrusted://` such as its new tab and download list, and `data:` or
/// `blob:` URLs are not requests over the network; what those pages fetch from the network is.)
fn assert_local_only(urls: &[String], base: &str) {
    let network: Vec<&String> = urls
        .iter()
        .filter(|url| {
            ["http:", "https:", "ws:", "wss:", "ftp:"]
                .iter()
                .any(|s| url.starts_with(s))
        })
        .collect();
    assert!(
        network.len() > 5,
        "the network log saw the page's requests: {urls:?}"
    );
    for url in network {
        assert!(url.starts_with(base), "a request left {base}: {url}");
    }
}

/// An auditor's session: sign-in (a wrong key first), last 7 days of failed SSO sign-ins, the
/// histogram, scrolling, an event's JSON, a saved view, exports, a shared link, enrichment.
#[test]
fn an_auditor_filters_scrolls_saves_exports_and_shares_a_view() {
    let f = fixture();
    let base = f.server.url("/");
    let driver = Driver::start();
    let downloads = f.dir.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let browser = driver.session(&f.dir.join("profile-1"), &downloads);
    // A zone half an hour off the hour: the histogram's buckets align to its midnight.
    browser.cdp(
        "Emulation.setTimezoneOverride",
        json!({"timezoneId": "Asia/Kolkata"}),
    );

    // Sign-in: a wrong key is refused on the sign-in screen with the reason.
    browser.goto(&base);
    browser.wait_for(
        "!document.getElementById('signin').hidden",
        "the sign-in screen",
    );
    browser.screenshot(&screenshots().join("sign-in.png"));
    browser.type_into("#signin-key", "ik_0123456789abcdef_wrong");
    browser.click("#signin-submit");
    browser.wait_for(
        "!document.getElementById('signin-error').hidden",
        "the sign-in error",
    );
    let refused = browser.text("#signin-error");
    assert!(
        refused.contains("not accepted") && refused.contains("revoked"),
        "{refused}"
    );
    assert!(browser.script("return document.getElementById('app').hidden;", json!([])) == true);
    let mut at = sign_in(&browser, &f.read_a);
    assert!(browser.text("#org-name").contains(&f.org_a));

    // Last 7 days, service sso, failures.
    browser.click("[data-range='7d']");
    at = wait_loaded(&browser, at);
    browser.click("#service-menu summary");
    browser.click("#service-options input[value='sso']");
    browser.click("#service-menu summary");
    browser.select("#f-outcome", "failure");
    browser.click("#filters button[type='submit']");
    at = wait_loaded(&browser, at);
    let chips = browser.text("#chips");
    assert!(
        chips.contains("service: sso") && chips.contains("outcome: failure"),
        "{chips}"
    );
    let request = window_request(
        &browser,
        json!({"service": ["sso"], "search_term": {"and": [{"success": false}]}}),
    );
    let expected = di_events(&f.server, &f.read_a, &request);
    assert!(
        expected.len() > 200,
        "three pages of 100 to scroll through: {}",
        expected.len()
    );
    let expected_ids: Vec<String> = expected.iter().map(|(id, _)| id.clone()).collect();

    // The histogram's buckets sum to /events/count.
    let total = count(&f.server, &f.read_a, &request);
    assert_eq!(total, expected.len() as u64);
    assert_eq!(shown_number(&browser, "#total"), total);
    let bars = browser.script(
        "return document.querySelectorAll('#chart rect:not(.hit)').length;",
        json!([]),
    );
    assert!(bars.as_u64().unwrap() > 0, "the histogram has bars");

    browser.script("window.scrollTo(0, 0);", json!([]));
    browser.screenshot(&screenshots().join("events.png"));

    // Scrolling through the pages: every row once, none missing, in the API's order.
    assert_eq!(row_ids(&browser).len(), 100, "the first page");
    let (ids, scrolls) = scroll_all(&browser);
    assert!(
        scrolls >= 2,
        "at least three pages were loaded by scrolling"
    );
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no row twice");
    assert_eq!(
        ids, expected_ids,
        "exactly the DI API's events, in its order"
    );

    // A row's JSON, as stored: opened with the keyboard (Enter on the focused row).
    let row = browser.find("#events-body tr:nth-child(3)");
    browser.send_keys(&row, "\u{E007}");
    browser.wait_for("document.getElementById('raw').open", "the event's JSON");
    browser.click("#raw-tab-stored");
    let shown = browser
        .script(
            "return document.getElementById('raw-stored').textContent;",
            json!([]),
        )
        .as_str()
        .unwrap()
        .to_owned();
    let sql = api(
        &f.server,
        &f.read_a,
        None,
        "/api/v1/sql",
        Some(json!({"query": format!("SELECT raw FROM events WHERE id = '{}'", expected[2].0)})),
    );
    let stored: Value = serde_json::from_slice(&sql).unwrap();
    let stored_raw = stored
        .as_array()
        .and_then(|rows| rows.first())
        .and_then(|row| row["raw"].as_str())
        .unwrap_or_else(|| panic!("the stored raw of {}: {stored}", expected[2].0));
    assert_eq!(
        shown, stored_raw,
        "the JSON shown is the stored text, byte for byte"
    );
    browser.click("#raw-tab-pretty");
    browser.screenshot(&screenshots().join("event-json.png"));
    browser.click("#raw-close");

    // Save the view, reload, open it from the list: the same rows.
    browser.click("#view-save");
    browser.type_into("#save-name", "sso-failures");
    browser.type_into("#save-description", "Failed SSO sign-ins, last 7 days");
    browser.click("#save-submit");
    wait_loaded(&browser, at);
    let views = api(
        &f.server,
        &f.read_a,
        None,
        "/api/v1/views/sso-failures",
        None,
    );
    let view: Value = serde_json::from_slice(&views).unwrap();
    assert_eq!(view["range"], "last 7d");
    assert_eq!(view["description"], "Failed SSO sign-ins, last 7 days");
    // A fresh document: away and back (a reload right after a navigation can race the
    // console's own rewrite of the fragment).
    browser.goto("about:blank");
    browser.goto(&base);
    at = wait_loaded(&browser, 0);
    assert!(
        browser.text("#chips").is_empty(),
        "a fresh screen has no filters"
    );
    browser.select("#view-select", "sso-failures");
    at = wait_loaded(&browser, at);
    let (reopened, _) = scroll_all(&browser);
    assert_eq!(reopened, expected_ids, "the saved view shows the same rows");

    // Exports from the menu: CSV with the chosen columns, and JSON; the whole result.
    browser.click("#export-menu summary");
    browser.click("#export-menu button[data-format='csv']");
    let csv_file = downloaded(&downloads, ".csv");
    let mut reader = csv::Reader::from_path(&csv_file).unwrap();
    let headers = reader.headers().unwrap().clone();
    let id_column = headers.iter().position(|h| h == "id").unwrap();
    assert!(
        headers.iter().any(|h| h == "geoip.country_code"),
        "{headers:?}"
    );
    let csv_ids: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[id_column].to_owned())
        .collect();
    assert_eq!(
        csv_ids.iter().collect::<BTreeSet<_>>(),
        expected_ids.iter().collect::<BTreeSet<_>>(),
        "the CSV holds exactly the matching events"
    );
    assert_eq!(csv_ids.len(), expected_ids.len());
    browser.click("#export-menu button[data-format='json']");
    let json_file = downloaded(&downloads, ".json");
    let exported: Vec<Box<RawValue>> =
        serde_json::from_slice(&std::fs::read(&json_file).unwrap()).unwrap();
    let mut exported: Vec<(String, String)> = exported
        .iter()
        .map(|raw| {
            let event: Value = serde_json::from_str(raw.get()).unwrap();
            (
                event["id"].as_str().unwrap().to_owned(),
                raw.get().to_owned(),
            )
        })
        .collect();
    let mut wanted = expected.clone();
    exported.sort();
    wanted.sort();
    assert_eq!(
        exported, wanted,
        "the JSON holds exactly the matching events, as stored"
    );
    browser.click("#export-menu summary");

    // The search_term editor reports a JSON mistake as it is typed.
    browser.click("#advanced summary");
    browser.type_into("#f-advanced", "{\"and\": [");
    browser.wait_for(
        "!document.getElementById('advanced-error').hidden",
        "the editor's error",
    );
    assert!(
        browser
            .text("#advanced-error")
            .starts_with("Not valid JSON")
    );
    browser.script(
        "const e = document.getElementById('f-advanced'); e.value = ''; \
         e.dispatchEvent(new Event('input'));",
        json!([]),
    );

    // Stacked by outcome: failures only, under this filter.
    browser.select("#stack", "success");
    at = wait_loaded(&browser, at);
    let legend = browser.text("#legend");
    assert!(
        legend.starts_with("failure") && !legend.contains("sso"),
        "{legend}"
    );
    browser.select("#stack", "service");
    at = wait_loaded(&browser, at);

    // Times in the browser's zone (UTC+05:30 here) or in UTC.
    let time_of_first_row = |browser: &Browser| {
        let text = browser.text("#events-body tr:first-child td:first-child");
        chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.3f").unwrap()
    };
    let local = time_of_first_row(&browser);
    browser.click("#tz");
    at = wait_loaded(&browser, at);
    assert!(browser.current_url().contains("utc=1"));
    assert_eq!(
        local - time_of_first_row(&browser),
        chrono::Duration::minutes(330)
    );
    browser.click("#tz");
    at = wait_loaded(&browser, at);

    // An absolute range typed in the zone shown.
    let day = chrono::Utc::now().date_naive() - chrono::Days::new(3);
    browser.script(
        "document.getElementById('from').value = arguments[0]; \
         document.getElementById('to').value = arguments[1];",
        json!([format!("{day}T00:00:00"), format!("{day}T12:00:00")]),
    );
    browser.click("#absolute button[type='submit']");
    at = wait_loaded(&browser, at);
    let typed = window_request(&browser, json!({}));
    let midnight = day.and_hms_opt(0, 0, 0).unwrap().and_utc() - chrono::Duration::minutes(330);
    assert_eq!(
        typed["start_time"],
        midnight.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    assert_eq!(
        typed["end_time"],
        (midnight + chrono::Duration::hours(12))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    browser.click("[data-range='7d']");
    at = wait_loaded(&browser, at);

    // Drag across the histogram: an absolute range; its URL, in a new browser session,
    // reproduces the same rows.
    browser.drag("#chart", 0.30, 0.70);
    wait_loaded(&browser, at);
    let url = browser.current_url();
    assert!(url.contains("from=") && url.contains("range="), "{url}");
    let narrowed = window_request(
        &browser,
        json!({"service": ["sso"], "search_term": {"and": [{"success": false}]}}),
    );
    // Whole 3-hour buckets of the zone shown (UTC+05:30): they start at 18:30, 21:30 ... UTC.
    for edge in ["start_time", "end_time"] {
        let at = chrono::DateTime::parse_from_rfc3339(narrowed[edge].as_str().unwrap()).unwrap();
        let since_local_midnight = (at.timestamp_millis() + 19_800_000).rem_euclid(10_800_000);
        assert_eq!(since_local_midnight, 0, "{edge} {at} is a bucket's edge");
    }
    let narrowed_ids: Vec<String> = di_events(&f.server, &f.read_a, &narrowed)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert!(
        !narrowed_ids.is_empty() && narrowed_ids.len() < expected_ids.len(),
        "the drag narrowed the range: {} of {}",
        narrowed_ids.len(),
        expected_ids.len()
    );
    let (shown_ids, _) = scroll_all(&browser);
    assert_eq!(shown_ids, narrowed_ids);
    let chips = browser.text("#chips");

    // Enrichment: the actor of a row, then the kiosk host whose users list is cut.
    browser.click("#events-body tr:first-child td:nth-child(4) button");
    browser.wait_for(
        "document.querySelector('#enrich-body .facts')",
        "the user's enrichment",
    );
    assert!(browser.text("#enrich-body").contains("events"));
    browser.click("#enrich-close");

    let errors = console_errors(
        &browser,
        &["/api/v1/me - Failed to load resource: the server responded with a status of 401"],
    );
    assert!(errors.is_empty(), "console errors: {errors:?}");
    assert_local_only(&requested_urls(&browser), &base);

    let second = driver.session(&f.dir.join("profile-2"), &downloads);
    second.goto(&url);
    sign_in(&second, &f.read_a);
    assert_eq!(second.text("#chips"), chips);
    let (again, _) = scroll_all(&second);
    assert_eq!(
        again, narrowed_ids,
        "the link reproduces the view in a new session"
    );

    second.script("window.scrollTo(0, 0);", json!([]));
    // Dark mode and tablet width, for the docs.
    second.cdp(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
    );
    second.screenshot(&screenshots().join("events-dark.png"));
    second.cdp("Emulation.setEmulatedMedia", json!({"features": []}));
    second.set_size(820, 1180);
    second.screenshot(&screenshots().join("tablet.png"));
    second.set_size(1280, 800);

    // The host that 30 users signed in to lists 25 and says how many there are.
    second.click("#service-menu summary");
    second.click("#service-options input[value='sso']");
    second.click("#service-menu summary");
    second.select("#f-outcome", "");
    second.type_into("#f-host", KIOSK);
    let before = loaded(&second);
    second.click("#filters button[type='submit']");
    let before = wait_loaded(&second, before);
    second.click("[data-range='30d']");
    wait_loaded(&second, before);
    assert_eq!(row_ids(&second).len(), 30, "the kiosk's sign-ins");
    second.click("#events-body tr:first-child td:nth-child(5) button");
    second.wait_for(
        "document.querySelector('#enrich-body .enrich-section')",
        "the host's enrichment",
    );
    let panel = second.text("#enrich-body");
    assert!(
        panel.contains("USERS (25 OF 30)") || panel.contains("Users (25 of 30)"),
        "{panel}"
    );
    second.screenshot(&screenshots().join("enrichment.png"));
    second.click("#enrich-close");

    let errors = console_errors(&second, &[]);
    assert!(errors.is_empty(), "console errors: {errors:?}");
    assert_local_only(&requested_urls(&second), &base);
}

/// Organizations: a key of one never sees another's events, views or names; a key of every
/// organization picks one.
#[test]
fn a_key_sees_only_its_organization_and_an_admin_key_picks_one() {
    let f = fixture();
    let base = f.server.url("/");
    api(
        &f.server,
        &f.admin,
        Some(&f.org_b),
        "/api/v1/views",
        Some(json!({"name": "b-private-view", "description": "only B",
            "request": {"service": ["all"], "start_time": "2000-01-01T00:00:00Z"}})),
    );
    // The page and its files come with a policy that allows nothing but this origin.
    let client = reqwest::Client::new();
    let page = runtime().block_on(receive(client.get(&base)));
    let policy = page.header("content-security-policy").unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert_eq!(
        page.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let missing = runtime().block_on(receive(client.get(f.server.url("/console/js/none.js"))));
    assert_eq!(missing.status, 404);

    // A download link works once, for the key's organization only.
    let link: Value = serde_json::from_slice(&api(
        &f.server,
        &f.read_a,
        None,
        "/api/v1/export/link?format=ndjson",
        Some(json!({"service": ["all"], "start_time": "2000-01-01T00:00:00Z"})),
    ))
    .unwrap();
    let url = f.server.url(link["url"].as_str().unwrap());
    let first = runtime().block_on(receive(client.get(&url)));
    assert_eq!(first.status, 200);
    assert!(
        first
            .header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    let exported = String::from_utf8(first.body).unwrap();
    assert!(exported.lines().count() > 20_000);
    assert!(
        exported
            .lines()
            .all(|line| line.contains(&f.org_a) && !line.contains(&f.org_b))
    );
    let again = runtime().block_on(receive(client.get(&url)));
    assert_eq!(again.status, 404, "a link works once");

    let driver = Driver::start();
    let downloads = f.dir.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();

    let browser = driver.session(&f.dir.join("profile-a"), &downloads);
    browser.goto(&base);
    let at = sign_in(&browser, &f.read_a);
    browser.click("[data-range='30d']");
    wait_loaded(&browser, at);
    // The first page is enough: every row's organization is checked through the API.
    let ids = row_ids(&browser);
    assert_eq!(ids.len(), 100);
    let page = browser
        .script(
            "return document.documentElement.outerHTML + document.body.innerText;",
            json!([]),
        )
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !page.contains(&f.org_b),
        "the page names the other organization"
    );
    assert!(
        !page.contains("b-private-view"),
        "the page lists the other organization's view"
    );
    for user in &f.only_b_users {
        assert!(
            !page.to_lowercase().contains(&format!(">{user}<")),
            "the page names {user}"
        );
    }
    assert!(
        browser.script(
            "return document.getElementById('org-picker').hidden;",
            json!([])
        ) == true
    );
    // Every row shown is one of this organization's events.
    let request = window_request(&browser, json!({"service": ["all"]}));
    let mine: BTreeSet<String> = di_events(&f.server, &f.read_a, &request)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert!(ids.iter().all(|id| mine.contains(id)));
    // A top value is a filter: the busiest user of the screen, one click.
    let top_user = browser.text("#top section[data-field='username'] li:first-child .key");
    let before = loaded(&browser);
    browser.click("#top section[data-field='username'] li:first-child button");
    wait_loaded(&browser, before);
    assert!(
        browser
            .text("#chips")
            .contains(&format!("user: {top_user}"))
    );
    let actors = browser.script(
        "return [...document.querySelectorAll('#events-body tr td:nth-child(4)')].map((c) => c.textContent.toLowerCase());",
        json!([]),
    );
    assert!(
        actors
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a.as_str() == Some(top_user.as_str())),
        "every row is the user's: {actors}"
    );

    let errors = console_errors(&browser, &[]);
    assert!(errors.is_empty(), "console errors: {errors:?}");
    assert_local_only(&requested_urls(&browser), &base);

    // The admin key of every organization picks one; the other's views appear with it.
    let admin = driver.session(&f.dir.join("profile-admin"), &downloads);
    admin.goto(&base);
    let at = sign_in(&admin, &f.admin);
    assert!(
        admin.script(
            "return document.getElementById('org-picker').hidden;",
            json!([])
        ) == false
    );
    let options = admin.script(
        "return [...document.querySelectorAll('#org option')].map((o) => o.value);",
        json!([]),
    );
    let mut expected = vec![f.org_a.clone(), f.org_b.clone()];
    expected.sort();
    assert_eq!(options, json!(expected));
    admin.select("#org", &f.org_b);
    wait_loaded(&admin, at);
    admin.wait_for(
        "[...document.querySelectorAll('#view-select option')].some((o) => o.value === 'b-private-view')",
        "the other organization's views",
    );
    assert!(admin.current_url().contains(&format!("org={}", f.org_b)));

    // Open the other organization's view, change it, update it, delete it.
    let at = loaded(&admin);
    admin.select("#view-select", "b-private-view");
    let at = wait_loaded(&admin, at);
    admin.select("#f-outcome", "failure");
    admin.click("#filters button[type='submit']");
    wait_loaded(&admin, at);
    admin.click("#view-update");
    admin.wait_for(
        "document.getElementById('view-select').value === 'b-private-view' && \
         !document.getElementById('view-update').disabled",
        "the updated view",
    );
    let updated: Value = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let view: Value = serde_json::from_slice(&api(
                &f.server,
                &f.admin,
                Some(&f.org_b),
                "/api/v1/views/b-private-view",
                None,
            ))
            .unwrap();
            if view["request"]["search_term"].is_object() || Instant::now() > deadline {
                break view;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert_eq!(
        updated["request"]["search_term"],
        json!({"and": [{"success": false}]}),
        "{updated}"
    );
    assert_eq!(updated["description"], "only B");
    admin.click("#view-delete");
    admin.accept_alert();
    admin.wait_for(
        "![...document.querySelectorAll('#view-select option')].some((o) => o.value === 'b-private-view')",
        "the view to go",
    );
    let client = reqwest::Client::new();
    let gone = runtime().block_on(receive(
        client
            .get(f.server.url("/api/v1/views/b-private-view"))
            .header("x-api-key", &f.admin)
            .header("x-org-id", &f.org_b),
    ));
    assert_eq!(gone.status, 404);
    let errors = console_errors(&admin, &[]);
    assert!(errors.is_empty(), "console errors: {errors:?}");
}
