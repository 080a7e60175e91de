//! Criterion benchmarks of the hot functions: the YAML parser and each pipeline stage on a
//! generated in-memory monorepo. End-to-end timings (wall time, peak RSS, the parse-only
//! floor) are `cargo run --release --example bench`; see README, Performance.
//!
//! ```sh
//! cargo bench --bench hot
//! ```

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poolguard::config::Config;
use poolguard::input::{self, Source};
use poolguard::parse::{self, Format, Limits};
use poolguard::source::{FileId, SourceDb};

/// The binary's allocator, so the stages are measured as they run in `poolguard`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One service as the synthetic corpus writes it: a Deployment and its Service in one file,
/// a ConfigMap carrying a Spring `application.yaml`, sometimes an HPA.
fn service(i: usize, dbs: usize) -> String {
    let db = i % dbs;
    let replicas = 1 + i % 5;
    let pool = 5 + (i * 7) % 40;
    let hpa = if i.is_multiple_of(3) {
        format!(
            "---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: svc{i}\n  namespace: team{t}\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: svc{i}\n  minReplicas: {replicas}\n  maxReplicas: {max}\n",
            t = i % 7,
            max = replicas + 4
        )
    } else {
        String::new()
    };
    format!(
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc{i}\n  namespace: team{t}\n  labels:\n    app: svc{i}\nspec:\n  replicas: {replicas}\n  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 0\n  selector:\n    matchLabels:\n      app: svc{i}\n  template:\n    metadata:\n      labels:\n        app: svc{i}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/svc{i}:1.{i}\n          ports:\n            - containerPort: 8080\n          env:\n            - name: DB_POOL_SIZE\n              value: \"{pool}\"\n          resources:\n            limits:\n              cpu: 500m\n              memory: 512Mi\n          volumeMounts:\n            - name: config\n              mountPath: /config\n      volumes:\n        - name: config\n          configMap:\n            name: svc{i}-config\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc{i}\n  namespace: team{t}\nspec:\n  selector:\n    app: svc{i}\n  ports:\n    - port: 80\n      targetPort: 8080\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: svc{i}-config\n  namespace: team{t}\ndata:\n  application.yaml: |\n    spring:\n      datasource:\n        url: jdbc:postgresql://db{db}-rw.data.svc.cluster.local:5432/app\n        hikari:\n          maximum-pool-size: ${{DB_POOL_SIZE:10}}\n{hpa}",
        t = i % 7
    )
}

/// `n` services and `n / 10` CloudNativePG clusters as one YAML stream.
fn monorepo(n: usize) -> String {
    let dbs = (n / 10).max(1);
    let mut out = String::new();
    for d in 0..dbs {
        out.push_str(&format!(
            "---\napiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: db{d}\n  namespace: data\nspec:\n  instances: 3\n  postgresql:\n    parameters:\n      max_connections: \"{}\"\n",
            100 + (d * 37) % 300
        ));
    }
    for i in 0..n {
        out.push_str(&service(i, dbs));
    }
    out
}

fn load(stream: &str) -> (input::Inputs, SourceDb) {
    let mut db = SourceDb::default();
    let inputs = input::load(
        vec![Source::Stdin(stream.to_string())],
        Path::new("."),
        &Limits::default(),
        &mut db,
    );
    (inputs, db)
}

fn parsers(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    for n in [1, 200] {
        let text = monorepo(n);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new("yaml", n), &text, |b, t| {
            b.iter(|| parse::parse(Format::Yaml, FileId(0), black_box(t), &Limits::default()))
        });
    }
    let props: String = (0..200)
        .map(|i| format!("spring.datasource.hikari.key{i}=${{POOL_{i}:10}}\n"))
        .collect();
    g.throughput(Throughput::Bytes(props.len() as u64));
    g.bench_function("properties/200", |b| {
        b.iter(|| {
            parse::parse(
                Format::Properties,
                FileId(0),
                black_box(&props),
                &Limits::default(),
            )
        })
    });
    g.finish();
}

fn pipeline(c: &mut Criterion) {
    let config = Config::default();
    let text = monorepo(200);
    let mut g = c.benchmark_group("pipeline/200-services");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("load", |b| b.iter(|| load(black_box(&text))));
    let (inputs, db) = load(&text);
    g.bench_function("model", |b| {
        b.iter(|| {
            let mut db = db.clone();
            poolguard::model::build(black_box(&inputs.files), &mut db, &config)
        })
    });
    let mut db2 = db.clone();
    let model = poolguard::model::build(&inputs.files, &mut db2, &config);
    assert!(
        !model.workloads.is_empty() && !model.databases.is_empty(),
        "the generated monorepo must produce workloads and databases"
    );
    g.bench_function("capacity", |b| {
        b.iter(|| poolguard::capacity::evaluate(black_box(&model), &config))
    });
    g.finish();
}

criterion_group!(benches, parsers, pipeline);
criterion_main!(benches);
