//! Ingesting a byte stream (a file, standard input): records framed on a thread of their own,
//! one group commit per chunk, and buffered events committed when due even while the input is
//! idle.

use std::io::Read;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

use crate::framing::{Chunk, RecordReader};
use crate::{BatchOutcome, Error, Ingester, Result};

/// Records per group commit (one fsync acknowledges them all).
const CHUNK_RECORDS: usize = 8192;
const CHUNK_BYTES: usize = 8 << 20;
/// How often an idle input is checked for buffered events due for a commit.
const IDLE_CHECK: Duration = Duration::from_secs(1);

enum Message {
    Chunk(Chunk),
    Failed(std::io::Error),
}

impl Ingester {
    /// Ingests every record of `input`, named `name` in rejections and errors. After each
    /// durable chunk, `acknowledged` gets the chunk and its outcome; an error it returns stops
    /// the stream. Events acknowledged before an error are durable in the write-ahead log.
    pub async fn ingest_stream(
        &mut self,
        name: &str,
        input: Box<dyn Read + Send>,
        bound_org: Option<&str>,
        mut acknowledged: impl FnMut(&Chunk, BatchOutcome) -> std::io::Result<()>,
    ) -> Result<()> {
        let max_record = self.config.max_record_bytes;
        let (sender, receiver) = sync_channel(2);
        let reader = std::thread::spawn(move || read_chunks(input, max_record, &sender));
        let result = self
            .ingest_chunks(name, &receiver, bound_org, &mut acknowledged)
            .await;
        // Dropping the receiver stops a reader that is still going.
        drop(receiver);
        let _ = reader.join();
        result
    }

    async fn ingest_chunks(
        &mut self,
        name: &str,
        receiver: &Receiver<Message>,
        bound_org: Option<&str>,
        acknowledged: &mut impl FnMut(&Chunk, BatchOutcome) -> std::io::Result<()>,
    ) -> Result<()> {
        loop {
            // The reader thread blocks on I/O; wait for it off the async workers.
            let message = tokio::task::block_in_place(|| receiver.recv_timeout(IDLE_CHECK));
            let chunk = match message {
                Ok(Message::Chunk(chunk)) => chunk,
                Ok(Message::Failed(e)) => return Err(Error::io(format!("reading {name}"), e)),
                // A slow producer: commit what has waited long enough, then keep waiting.
                Err(RecvTimeoutError::Timeout) => {
                    self.commit_if_due().await?;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            let outcome =
                self.ingest(name, &chunk, bound_org)
                    .await
                    .map_err(|e| Error::Interrupted {
                        input: name.to_owned(),
                        line: chunk.records.first().map_or(0, |r| r.line),
                        wal: self.wal_dir().to_path_buf(),
                        source: Box::new(e),
                    })?;
            self.commit_if_due().await?;
            acknowledged(&chunk, outcome)
                .map_err(|e| Error::io(format!("acknowledging {name}"), e))?;
        }
    }

    /// Commits what has waited long enough. A failed commit is retried by the ingester (and
    /// logged where it failed); the caller stops only when the buffer is full behind it.
    pub async fn commit_if_due(&mut self) -> Result<()> {
        match self.flush_if_due().await {
            Ok(()) | Err(Error::Commit { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn read_chunks(input: Box<dyn Read + Send>, max_record: usize, sender: &SyncSender<Message>) {
    let mut reader = match RecordReader::new(input, max_record) {
        Ok(reader) => reader,
        Err(e) => {
            let _ = sender.send(Message::Failed(e));
            return;
        }
    };
    loop {
        // Room for a full chunk plus one record that overshoots it.
        let mut chunk = Chunk::with_capacity(CHUNK_RECORDS, CHUNK_BYTES + (1 << 20));
        match reader.next_chunk(&mut chunk, CHUNK_RECORDS, CHUNK_BYTES) {
            Ok(true) => {
                if sender.send(Message::Chunk(chunk)).is_err() {
                    return;
                }
            }
            Ok(false) => return,
            Err(e) => {
                let _ = sender.send(Message::Failed(e));
                return;
            }
        }
    }
}
