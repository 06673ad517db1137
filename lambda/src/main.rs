//! `bootstrap`: the AWS Lambda function that archives increments of the events table to S3.
//!
//! This version of the engine does not include the scheduled export yet; the binary exists so
//! that the workspace and its deployment layout build, and it refuses to run.

use std::process::ExitCode;

fn main() -> ExitCode {
    let _ = insights_exporter::StoreLocation::parse;
    eprintln!("bootstrap: this build of the Directory Insights engine has no scheduled export");
    ExitCode::FAILURE
}
