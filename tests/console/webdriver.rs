//! A small W3C WebDriver client for the console tests: Debian's `chromedriver` started on a free
//! loopback port, driving headless Chromium, with the few commands the tests use. Calls block
//! (each on the client's own runtime) so a test reads as the steps a user takes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver, killed when dropped.
pub struct Driver {
    child: Child,
    base: String,
}

impl Driver {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver())
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts (the test command installs Debian's chromium-driver)");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, base }
    }

    /// A new browser: its own empty profile, downloads saved to `downloads`, window 1280x800.
    pub fn session(&self, profile: &Path, downloads: &Path) -> Browser {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let http = reqwest::Client::new();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,800",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.to_str().unwrap(),
                    "download.prompt_for_download": false,
                },
            },
            "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"},
        }}});
        let answer = runtime.block_on(call(
            &http,
            reqwest::Method::POST,
            &format!("{}/session", self.base),
            Some(capabilities),
        ));
        let id = answer["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        let browser = Browser {
            runtime,
            http,
            url: format!("{}/session/{id}", self.base),
        };
        browser.cdp(
            "Browser.setDownloadBehavior",
            json!({"behavior": "allow", "downloadPath": downloads.to_str().unwrap()}),
        );
        browser
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromium() -> String {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chromium is installed (the test command installs Debian's chromium)")
        .to_owned()
}

fn chromedriver() -> PathBuf {
    PathBuf::from("/usr/bin/chromedriver")
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Value {
    let mut request = http.request(method.clone(), url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("chromedriver answers");
    let status = response.status();
    let text = response.text().await.unwrap();
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(
        status.is_success(),
        "WebDriver {method} {url} failed with {status}: {text}"
    );
    value["value"].clone()
}

/// One browser session, closed when dropped.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    url: String,
}

/// An element of the page.
#[derive(Clone)]
pub struct Element(String);

impl Browser {
    fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.runtime.block_on(call(
            &self.http,
            method,
            &format!("{}{path}", self.url),
            body,
        ))
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, Some(body))
    }

    pub fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url}));
    }

    pub fn current_url(&self) -> String {
        self.send(reqwest::Method::GET, "/url", None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn set_size(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}));
    }

    pub fn find(&self, css: &str) -> Element {
        let found = self.post("/element", json!({"using": "css selector", "value": css}));
        Element(found[ELEMENT].as_str().unwrap().to_owned())
    }

    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.post(&format!("/element/{}/click", element.0), json!({}));
    }

    /// Clears an input and types into it.
    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.post(&format!("/element/{}/clear", element.0), json!({}));
        self.post(
            &format!("/element/{}/value", element.0),
            json!({"text": text}),
        );
    }

    /// Types keys into an element (WebDriver key codes, e.g. "\u{E007}" for Enter).
    pub fn send_keys(&self, element: &Element, text: &str) {
        self.post(
            &format!("/element/{}/value", element.0),
            json!({"text": text}),
        );
    }

    /// Drags the mouse across an element from one fraction of its width to another, at half
    /// its height.
    pub fn drag(&self, css: &str, from: f64, to: f64) {
        let rect = self.script(
            "const e = document.querySelector(arguments[0]); e.scrollIntoView({block: 'center'}); \
             const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height];",
            json!([css]),
        );
        let [left, top, width, height] = [0, 1, 2, 3].map(|i| rect[i].as_f64().unwrap());
        let y = (top + height / 2.0) as i64;
        let x = |fraction: f64| (left + width * fraction) as i64;
        self.post(
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse",
                "parameters": {"pointerType": "mouse"}, "actions": [
                {"type": "pointerMove", "duration": 0, "x": x(from), "y": y, "origin": "viewport"},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerMove", "duration": 150, "x": x((from + to) / 2.0), "y": y,
                    "origin": "viewport"},
                {"type": "pointerMove", "duration": 150, "x": x(to), "y": y, "origin": "viewport"},
                {"type": "pointerUp", "button": 0}]}]}),
        );
    }

    pub fn select(&self, css: &str, value: &str) {
        self.script(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; \
             s.dispatchEvent(new Event('change', {bubbles: true}));",
            json!([css, value]),
        );
    }

    pub fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.send(
            reqwest::Method::GET,
            &format!("/element/{}/text", element.0),
            None,
        )
        .as_str()
        .unwrap()
        .to_owned()
    }

    /// Runs `body` (a function body; `arguments` are `args`) in the page and returns its value.
    pub fn script(&self, body: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": body, "args": args}))
    }

    /// Waits until `condition` (a JavaScript expression) is truthy.
    pub fn wait_for(&self, condition: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let body = format!("return Boolean({condition});");
        while self.script(&body, json!([])) != Value::Bool(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn accept_alert(&self) {
        self.post("/alert/accept", json!({}));
    }

    pub fn screenshot(&self, path: &Path) {
        let png = self.send(reqwest::Method::GET, "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// A Chrome DevTools Protocol command, through chromedriver.
    pub fn cdp(&self, command: &str, params: Value) -> Value {
        self.post(
            "/goog/cdp/execute",
            json!({"cmd": command, "params": params}),
        )
    }

    /// The browser's log entries of `kind` (`browser`: the console; `performance`: DevTools
    /// events, network requests among them) since the last call.
    pub fn log(&self, kind: &str) -> Vec<Value> {
        self.post("/se/log", json!({"type": kind}))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let url = self.url.clone();
        let http = self.http.clone();
        let _ = self
            .runtime
            .block_on(async move { http.delete(url).send().await });
    }
}
