//! A started `insights serve` for the tests that talk to it over HTTP or kill it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{insights, run, stderr};

/// How to start a server beyond its flags.
#[derive(Default)]
pub struct Launch {
    /// Where its standard error goes (inherited when `None`).
    pub stderr: Option<PathBuf>,
    /// Run it as this user and group (the test must be root).
    pub user: Option<u32>,
    /// The binary to run instead of the one under test (a copy another user can reach).
    pub binary: Option<PathBuf>,
}

/// A running `insights serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Starts a server on a free loopback port and waits until it listens.
    pub fn start(store: &Path, extra: &[&str]) -> Self {
        let (child, listening) = Self::spawn(store, extra, Launch::default());
        Self::wait_listening(child, &listening)
    }

    /// Starts a server as `launch` says and waits until it listens.
    pub fn start_with(store: &Path, extra: &[&str], launch: Launch) -> Self {
        let (child, listening) = Self::spawn(store, extra, launch);
        Self::wait_listening(child, &listening)
    }

    /// Starts a server without waiting: the receiver yields its base URL once it listens (it
    /// may be killed before, while it opens the store and replays its log).
    pub fn spawn(store: &Path, extra: &[&str], launch: Launch) -> (Child, mpsc::Receiver<String>) {
        let mut command = match &launch.binary {
            Some(binary) => {
                let mut command = Command::new(binary);
                command
                    .env("RUST_BACKTRACE", "0")
                    .env_remove("INSIGHTS_STORE");
                command
            }
            None => insights(),
        };
        command.args([
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ]);
        if !extra.contains(&"--flush-age-ms") {
            command.args(["--flush-age-ms", "200"]);
        }
        command
            .args(extra)
            .current_dir(store.parent().unwrap())
            .stdout(Stdio::piped());
        match &launch.stderr {
            Some(path) => command.stderr(std::fs::File::create(path).unwrap()),
            None => command.stderr(Stdio::inherit()),
        };
        if let Some(user) = launch.user {
            use std::os::unix::process::CommandExt;
            command.uid(user).gid(user);
        }
        let mut child = command.spawn().expect("start the server");
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next()
                && let Some(base) = line.trim().strip_prefix("listening on ")
            {
                let _ = sender.send(base.to_owned());
            }
            // Keep reading so that the server never blocks on a full pipe.
            for _ in lines {}
        });
        (child, receiver)
    }

    fn wait_listening(mut child: Child, listening: &mpsc::Receiver<String>) -> Self {
        match listening.recv_timeout(Duration::from_secs(120)) {
            Ok(base) => Self { child, base },
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!("the server did not start listening ({status:?})")
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL, and wait for the process to go.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and the exit status once the process has gone.
    pub fn stop(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("serve did not stop on SIGTERM");
    }

    /// SIGTERM, and assert a clean exit.
    pub fn terminate(&mut self) {
        let status = self.stop();
        assert!(status.success(), "serve exited with {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Creates an API key of `org` with `role` in the store and returns it.
pub fn key(store: &Path, org: &str, role: &str) -> String {
    let output = run(
        store.parent().unwrap(),
        &[
            "keys",
            "--store",
            store.to_str().unwrap(),
            "create",
            "--org",
            org,
            "--role",
            role,
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A temporary directory with an empty `store` directory in it.
pub fn fresh_store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    (dir, store)
}
