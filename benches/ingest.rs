//! Ingest micro-benchmarks: decoding DI events, and the whole ingest path in-process.
//!
//! The end-to-end figure of the issue (2,000,000 events through the CLI, with peak RSS) comes
//! from `scripts/bench-ingest.sh`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use insights_ingest::framing::{Chunk, RecordReader};
use insights_ingest::{IngestConfig, Ingester, StoreLocation};

fn events(count: u64) -> Vec<u8> {
    let options = insights_generate::GenerateOptions {
        events: count,
        days: 30,
        ..Default::default()
    };
    let mut out = Vec::new();
    insights_generate::generate(&options, &mut out).expect("generating into memory");
    out
}

fn decode(c: &mut Criterion) {
    let data = events(20_000);
    let lines: Vec<&[u8]> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("decode_event", |b| {
        b.iter(|| {
            for line in &lines {
                std::hint::black_box(insights_schemas::decode_event(line, None).ok());
            }
        })
    });
    group.finish();
}

fn ingest(c: &mut Criterion) {
    let data = events(50_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(50_000));
    group.bench_function("50k_events_fresh_store", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temp dir"),
            |dir| {
                runtime.block_on(async {
                    let store = StoreLocation::Local(dir.path().join("store"));
                    let config = IngestConfig::new(store, dir.path());
                    let mut ingester = Ingester::open(config).await.expect("open");
                    let mut reader = RecordReader::new(std::io::Cursor::new(data.clone()), 1 << 24)
                        .expect("reader");
                    let mut chunk = Chunk::default();
                    while reader.next_chunk(&mut chunk, 8192, 8 << 20).expect("read") {
                        ingester
                            .ingest("bench", &chunk, None)
                            .await
                            .expect("ingest");
                    }
                    ingester.close().await.expect("close");
                })
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, decode, ingest);
criterion_main!(benches);
