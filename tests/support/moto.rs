//! A real S3-compatible server (moto) on a free loopback port, stopped on drop.

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub endpoint: String,
    /// The user state directory (XDG_STATE_HOME) of the processes that talk to this server:
    /// where the write-ahead logs of its s3:// stores live, one per test.
    pub state_home: tempfile::TempDir,
}

impl Moto {
    /// Starts `moto_server`; the test command installs it (`pip install moto[server]`).
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "moto_server must be installed (pip install 'moto[server]'); .ci/run installs it",
            );
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            state_home: tempfile::tempdir().expect("a state directory"),
        }
    }

    /// Environment of a process that talks to this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            (
                "XDG_STATE_HOME",
                self.state_home.path().to_string_lossy().into_owned(),
            ),
        ]
    }

    /// Storage options for reading a table on this server directly.
    pub fn storage_options(&self) -> HashMap<String, String> {
        HashMap::from([
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ALLOW_HTTP".into(), "true".into()),
        ])
    }

    /// Creates a bucket through the S3 API.
    pub fn create_bucket(&self, bucket: &str) {
        let status = Command::new("python3")
            .args([
                "-c",
                "import sys, boto3; boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', \
                 aws_access_key_id='test', aws_secret_access_key='test').create_bucket(Bucket=sys.argv[2])",
                &self.endpoint,
                bucket,
            ])
            .status()
            .expect("python3 with boto3 (installed with moto)");
        assert!(status.success(), "creating bucket {bucket}");
    }
}

impl Moto {
    /// Copies every object under `bucket/prefix` into `dir` (keys relative to the prefix).
    pub fn download(&self, bucket: &str, prefix: &str, dir: &std::path::Path) {
        let status = Command::new("python3")
            .args([
                "-c",
                "import os, sys, boto3\n\
                 c = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', \
                 aws_access_key_id='test', aws_secret_access_key='test')\n\
                 for page in c.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[2], Prefix=sys.argv[3]):\n\
                 \x20   for o in page.get('Contents', []):\n\
                 \x20       path = os.path.join(sys.argv[4], o['Key'][len(sys.argv[3]):].lstrip('/'))\n\
                 \x20       os.makedirs(os.path.dirname(path), exist_ok=True)\n\
                 \x20       c.download_file(sys.argv[2], o['Key'], path)\n",
                &self.endpoint,
                bucket,
                prefix,
                dir.to_str().unwrap(),
            ])
            .status()
            .expect("python3 with boto3 (installed with moto)");
        assert!(status.success(), "downloading s3://{bucket}/{prefix}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
