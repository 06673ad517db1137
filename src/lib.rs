//! Library side of the `insights` package: pieces of the command-line tool that benchmarks and
//! tests use too.

pub mod generate;
