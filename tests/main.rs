//! End-to-end tests of the `insights` binary: one test binary, one module per area.

// A test target: its helpers unwrap, and a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

mod bad_input;
mod console;
mod crash;
mod decode;
mod dedup;
mod durability;
mod enrich;
mod evidence;
mod hostile;
mod http;
mod increment;
mod maintenance;
mod pull;
mod query;
mod s3;
