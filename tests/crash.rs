//! `kill -9` at random instants — while events are ingested, while a commit is under way,
//! while a restart replays the log — several times in a row, over HTTP and the CLI (a file and
//! stdin), with random flush sizes (rows, bytes, age) on every start. Afterwards every
//! acknowledged event is in the table exactly once, byte for byte, and a last full ingest
//! leaves exactly the corpus.
//!
//! Seeded: the seed is printed first and in every failure; `INSIGHTS_CRASH_SEED=<seed>`
//! replays a run, `INSIGHTS_CRASH_ROUNDS=<n>` sets the number of rounds (default 32).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::server::{Launch, Server, key};
use crate::support::{generate, identity, insights, lines, read_events, run, stderr};

/// xorshift64*: small, seedable, good enough to pick instants and sizes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A value between `low` and `high`, uniform in its logarithm.
    fn log_uniform(&mut self, low: u64, high: u64) -> u64 {
        let (low, high) = ((low as f64).ln(), (high as f64).ln());
        let fraction = self.below(1 << 20) as f64 / f64::from(1 << 20);
        (low + (high - low) * fraction).exp() as u64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What a run is fed and what it was told.
struct Run {
    seed: u64,
    dir: PathBuf,
    store: PathBuf,
    corpus: Vec<String>,
    /// The organization of each corpus line, and an ingest key per organization.
    orgs: Vec<String>,
    keys: HashMap<String, String>,
    acknowledged: Arc<Mutex<HashSet<usize>>>,
    /// Acknowledgements received, counting an event acknowledged again (a retry) again.
    acks: Arc<std::sync::atomic::AtomicU64>,
    rng: Rng,
    kills: u64,
    replay_kills: u64,
}

/// Random flush settings, as command-line flags.
fn flush_flags(rng: &mut Rng) -> Vec<String> {
    vec![
        "--flush-rows".into(),
        rng.log_uniform(50, 60_000).to_string(),
        "--flush-bytes".into(),
        rng.log_uniform(16 << 10, 64 << 20).to_string(),
        "--flush-age-ms".into(),
        rng.log_uniform(20, 60_000).to_string(),
    ]
}

impl Run {
    fn acknowledge(&self, indices: &[usize]) {
        acknowledge(&self.acknowledged, &self.acks, indices);
    }

    /// Ingests `indices` over HTTP with two concurrent clients and SIGKILLs the server after
    /// `kill_after` (possibly before it listens, while it replays its log).
    fn round_http(&mut self, indices: &[usize], flags: &[String], kill_after: Duration) {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let (mut child, listening) = Server::spawn(&self.store, &flags, Launch::default());
        let batches = self.http_batches(indices);
        let batches = Arc::new(Mutex::new(batches.into_iter()));
        let (base_sender, base) = std::sync::mpsc::channel::<String>();
        let forward = std::thread::spawn(move || {
            if let Ok(url) = listening.recv() {
                let _ = base_sender.send(url.clone());
                let _ = base_sender.send(url);
            }
        });
        let base = Arc::new(Mutex::new(base));
        let clients: Vec<_> = (0..2)
            .map(|_| {
                let base = base.clone();
                let batches = batches.clone();
                let acknowledged = self.acknowledged.clone();
                let acks = self.acks.clone();
                std::thread::spawn(move || {
                    let url = base.lock().unwrap().recv();
                    let Ok(url) = url else { return };
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    let http = reqwest::Client::new();
                    loop {
                        let Some((key, body, members)) = batches.lock().unwrap().next() else {
                            return;
                        };
                        let status = runtime.block_on(async {
                            http.post(format!("{url}/api/v1/ingest"))
                                .header("x-api-key", key)
                                .body(body)
                                .send()
                                .await
                                .map(|r| r.status().as_u16())
                        });
                        match status {
                            Ok(200) => acknowledge(&acknowledged, &acks, &members),
                            Ok(_) => {}
                            Err(_) => return, // killed
                        }
                    }
                })
            })
            .collect();
        // The clients wait for the address; the kill comes at its instant either way.
        std::thread::sleep(kill_after);
        let _ = child.kill();
        let _ = child.wait();
        for client in clients {
            client.join().unwrap();
        }
        forward.join().unwrap();
    }

    /// `indices` cut into batches of one organization each: (key, NDJSON body, indices).
    fn http_batches(&mut self, indices: &[usize]) -> Vec<(String, String, Vec<usize>)> {
        let mut batches = Vec::new();
        let mut rest = indices;
        while !rest.is_empty() {
            let size = (100 + self.rng.below(900) as usize).min(rest.len());
            let (batch, tail) = rest.split_at(size);
            rest = tail;
            let mut by_org: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for &i in batch {
                by_org.entry(self.orgs[i].as_str()).or_default().push(i);
            }
            for (org, members) in by_org {
                let body = members
                    .iter()
                    .map(|&i| self.corpus[i].as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                batches.push((self.keys[org].clone(), body, members));
            }
        }
        batches
    }

    /// Ingests `indices` with `insights ingest --acks`, from a file or from stdin, and
    /// SIGKILLs it after `kill_after` unless it finished first.
    fn round_cli(
        &mut self,
        indices: &[usize],
        flags: &[String],
        stdin: bool,
        kill_after: Duration,
    ) {
        let text: String = indices
            .iter()
            .map(|&i| format!("{}\n", self.corpus[i]))
            .collect();
        let input = self.dir.join("round.ndjson");
        let mut command = insights();
        command
            .current_dir(&self.dir)
            .args(["ingest", "--store", self.store.to_str().unwrap(), "--acks"])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if stdin {
            command.arg("-").stdin(Stdio::piped());
        } else {
            std::fs::write(&input, &text).unwrap();
            command.arg(input.to_str().unwrap());
        }
        let mut child = command.spawn().unwrap();
        let writer = child.stdin.take().map(|mut pipe| {
            // A producer that writes in bursts.
            let mut pauses = Rng(self.rng.next() | 1);
            std::thread::spawn(move || {
                for part in text.as_bytes().chunks(64 << 10) {
                    if pipe.write_all(part).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(pauses.below(40)));
                }
            })
        });
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut through = 0usize;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(ack) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(n) = ack["through_line"].as_u64()
                {
                    through = through.max(n as usize);
                }
            }
            through
        });
        wait_or_kill(&mut child, kill_after);
        if let Some(writer) = writer {
            writer.join().unwrap();
        }
        let through = reader.join().unwrap();
        self.acknowledge(&indices[..through.min(indices.len())]);
    }

    /// A restart that is killed while it replays the log: as soon as its first commit shows in
    /// the table's log, or after a random instant.
    fn replay_kill(&mut self) {
        let flags = vec![
            "--flush-rows".to_string(),
            self.rng.log_uniform(50, 5_000).to_string(),
            "--flush-age-ms".into(),
            self.rng.log_uniform(20, 60_000).to_string(),
        ];
        let log = self.store.join("events/_delta_log");
        let before = entries(&log);
        let mut child: Child = if self.rng.chance(50) {
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            Server::spawn(&self.store, &flags, Launch::default()).0
        } else {
            std::fs::write(self.dir.join("empty.ndjson"), "").unwrap();
            insights()
                .current_dir(&self.dir)
                .args(["ingest", "--store", self.store.to_str().unwrap()])
                .args(&flags)
                .arg("empty.ndjson")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        if self.rng.chance(50) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while entries(&log) == before
                && Instant::now() < deadline
                && child.try_wait().unwrap().is_none()
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = child.kill();
            let _ = child.wait();
        } else {
            let after = Duration::from_millis(self.rng.below(800));
            wait_or_kill(&mut child, after);
        }
        self.replay_kills += 1;
    }

    /// A clean start that replays and commits the log, then the table against every
    /// acknowledgement: each acknowledged event exactly once, byte for byte.
    fn check(&self, when: &str) {
        std::fs::write(self.dir.join("empty.ndjson"), "").unwrap();
        let settle = run(
            &self.dir,
            &[
                "ingest",
                "--store",
                self.store.to_str().unwrap(),
                "empty.ndjson",
            ],
        );
        assert!(
            settle.status.success(),
            "seed {}, {when}: restart failed: {}",
            self.seed,
            stderr(&settle)
        );
        let stored = read_events(&self.store);
        let mut seen = HashSet::new();
        for event in &stored {
            assert!(
                seen.insert((&event.organization, &event.id, event.timestamp_us)),
                "seed {}, {when}: {}/{} stored twice",
                self.seed,
                event.organization,
                event.id
            );
        }
        let raws: HashSet<&str> = stored.iter().map(|e| e.raw.as_str()).collect();
        let acknowledged = self.acknowledged.lock().unwrap();
        let missing: Vec<_> = acknowledged
            .iter()
            .filter(|&&i| !raws.contains(self.corpus[i].as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "seed {}, {when}: {} of {} acknowledged events missing or altered, e.g. line {}",
            self.seed,
            missing.len(),
            acknowledged.len(),
            missing[0] + 1
        );
    }
}

fn acknowledge(
    acknowledged: &Mutex<HashSet<usize>>,
    acks: &std::sync::atomic::AtomicU64,
    indices: &[usize],
) {
    acknowledged.lock().unwrap().extend(indices);
    acks.fetch_add(indices.len() as u64, std::sync::atomic::Ordering::Relaxed);
}

/// Files in a directory (0 when it does not exist yet).
fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

/// Waits for `child` until `after`, then SIGKILLs it if it still runs.
fn wait_or_kill(child: &mut Child, after: Duration) {
    let deadline = Instant::now() + after;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn sigkill_at_random_instants_loses_and_duplicates_nothing_acknowledged() {
    let seed = env_number("INSIGHTS_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1
    });
    let rounds = env_number("INSIGHTS_CRASH_ROUNDS").unwrap_or(32);
    eprintln!("crash test: seed {seed} (replay with INSIGHTS_CRASH_SEED={seed}), {rounds} rounds");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let mut rng = Rng(seed);
    let corpus_path = generate(
        dir.path(),
        "corpus.ndjson",
        &[
            "--events",
            "100000",
            "--days",
            "3",
            "--orgs",
            "2",
            "--seed",
            &(rng.below(1000)).to_string(),
        ],
    );
    let corpus = lines(&corpus_path);
    let identities: Vec<_> = corpus.iter().map(|l| identity(l)).collect();
    assert_eq!(
        identities.iter().collect::<HashSet<_>>().len(),
        corpus.len(),
        "the corpus holds each identity once"
    );
    let orgs: Vec<String> = identities.iter().map(|i| i.0.clone()).collect();
    let keys = orgs
        .iter()
        .collect::<HashSet<_>>()
        .into_iter()
        .map(|org| (org.clone(), key(&store, org, "ingest")))
        .collect();
    let mut run = Run {
        seed,
        dir: dir.path().to_path_buf(),
        store,
        corpus,
        orgs,
        keys,
        acknowledged: Arc::default(),
        acks: Arc::default(),
        rng,
        kills: 0,
        replay_kills: 0,
    };
    let mut cursor = 0usize;
    let mut sent = 0usize;
    for round in 0..rounds {
        // The next stretch of the corpus (wrapping round), with earlier events sent again.
        let len = 1_000 + run.rng.below(4_000) as usize;
        let mut indices: Vec<usize> = (cursor..cursor + len)
            .map(|i| i % run.corpus.len())
            .collect();
        cursor += len;
        sent = sent.max(cursor.min(run.corpus.len()));
        let retries = run.rng.below(400) as usize;
        for _ in 0..retries {
            let earlier = run.rng.below(sent as u64) as usize;
            let at = run.rng.below(indices.len() as u64) as usize;
            indices.insert(at, earlier);
        }
        let flags = flush_flags(&mut run.rng);
        let kill_after = Duration::from_millis(run.rng.below(3_000));
        let mode = run.rng.below(3);
        let acks_before = run.acks.load(std::sync::atomic::Ordering::Relaxed);
        match mode {
            0 => run.round_http(&indices, &flags, kill_after),
            1 => run.round_cli(&indices, &flags, false, kill_after),
            _ => run.round_cli(&indices, &flags, true, kill_after),
        }
        run.kills += 1;
        let crashes = if run.rng.chance(60) {
            1 + run.rng.below(2)
        } else {
            0
        };
        for _ in 0..crashes {
            run.replay_kill();
        }
        eprintln!(
            "round {round}: {} {} events, {}, killed after {kill_after:?}, then {crashes} \
             replay kill(s); {} acknowledged",
            ["http", "cli-file", "cli-stdin"][mode as usize],
            indices.len(),
            flags.join(" "),
            run.acks.load(std::sync::atomic::Ordering::Relaxed) - acks_before,
        );
        if round % 4 == 3 {
            run.check(&format!("after round {round}"));
        }
    }
    run.check("at the end");
    let acknowledged = run.acknowledged.lock().unwrap().len();
    let acks = run.acks.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        acknowledged > 0,
        "seed {seed}: nothing was ever acknowledged"
    );

    // Everything once more, to the end: the table is exactly the corpus.
    let done = run_all(&run, &corpus_path);
    assert!(done.status.success(), "seed {seed}: {}", stderr(&done));
    let stored = read_events(&run.store);
    let raws: HashSet<&str> = stored.iter().map(|e| e.raw.as_str()).collect();
    assert_eq!(stored.len(), run.corpus.len(), "seed {seed}");
    assert!(
        run.corpus.iter().all(|l| raws.contains(l.as_str())),
        "seed {seed}"
    );
    eprintln!(
        "crash test: seed {seed}: {rounds} rounds, {} kills during ingest, {} during replay, \
         {acks} acknowledgements of {acknowledged} distinct events checked, {} stored",
        run.kills,
        run.replay_kills,
        stored.len()
    );
}

fn run_all(run: &Run, corpus: &Path) -> std::process::Output {
    insights()
        .current_dir(&run.dir)
        .args(["ingest", "--store", run.store.to_str().unwrap()])
        .arg(corpus)
        .output()
        .unwrap()
}
