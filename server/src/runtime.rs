//! The runtimes and signals of the service: ingest on threads of its own at a lower priority,
//! and the shutdown signal.

use anyhow::Context;

/// The runtime ingest runs on: decoding, the write-ahead log and the Parquet encoding of
/// commits are CPU-bound and long (a commit encodes up to `--flush-rows` events at once), and on
/// the runtime that serves queries they would hold its worker threads while queries wait. Here
/// they have threads of their own, at a lower priority than the queries' (`nice`), so that
/// the kernel gives a query the CPU as soon as it needs it.
pub(crate) fn ingest_runtime(nice: u8) -> anyhow::Result<IngestRuntime> {
    let nice = (thread_nice() + i32::from(nice)).min(19);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // The ingest loop and the commit it started run side by side.
        .worker_threads(2)
        .thread_name("ingest")
        .enable_all()
        // An absolute value: a thread started from an ingest thread has its nice value already.
        .on_thread_start(move || set_thread_nice(nice))
        .build()
        .context("starting the ingest runtime")?;
    Ok(IngestRuntime {
        handle: runtime.handle().clone(),
        runtime: Some(runtime),
    })
}

/// The ingest runtime, shut down without waiting when `run` returns: its task has finished by
/// then, or `run` failed and the write-ahead log keeps what was acknowledged. (Dropping a
/// runtime would wait, which an async context must not.)
pub(crate) struct IngestRuntime {
    pub(crate) handle: tokio::runtime::Handle,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for IngestRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The nice value of the calling thread.
#[cfg(target_os = "linux")]
fn thread_nice() -> i32 {
    // On Linux the nice value belongs to each thread, and PRIO_PROCESS with 0 names the
    // calling thread. (-1 is also a valid value; it would only mean a base of -1.)
    // SAFETY: getpriority only reads the calling thread's nice value.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
}

#[cfg(not(target_os = "linux"))]
fn thread_nice() -> i32 {
    0
}

/// Sets the calling thread's nice value to `nice`, leaving the other threads alone.
#[cfg(target_os = "linux")]
fn set_thread_nice(nice: i32) {
    // SAFETY: setpriority only sets the calling thread's nice value.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "cannot lower the priority of an ingest thread"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn set_thread_nice(_nice: i32) {}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not when the
/// future is first polled: a SIGTERM that arrives right after "listening" must not find the
/// default action (an exit without flushing) still in place.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    #[cfg(unix)]
    let interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    async move {
        #[cfg(unix)]
        match (terminate, interrupt) {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("cannot listen for SIGTERM and SIGINT: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
