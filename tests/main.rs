//! End-to-end tests of the `insights` binary: one test binary, one module per area.

mod support;

mod bad_input;
mod crash;
mod decode;
mod dedup;
mod durability;
mod enrich;
mod hostile;
mod http;
mod increment;
mod maintenance;
mod query;
mod s3;
