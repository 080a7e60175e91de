//! End-to-end benchmark: `check` against a parse-only floor on generated monorepos.
//!
//! ```sh
//! cargo run --release --example bench                       # s62 (~200 files), s2000, s20000
//! cargo run --release --example bench -- --services 2000 --runs 9
//! ```
//!
//! For each corpus size N it generates `target/bench-corpus/sN` (once; seed 42) with
//! `gen_corpus.py` from the shared bench folder (`--shared DIR`, else `$POOLGUARD_BENCH_SHARED`,
//! else `../shared/bench`), or with a small built-in generator when that script is absent, so
//! the bench runs from a clean clone. Then it times, as child processes on a warm cache:
//!
//! - `check`: the release binary, `poolguard check DIR` (human output to /dev/null);
//! - `report`: the release binary, `poolguard report DIR` (the budget table);
//! - `parse-only`: this example re-run as `--parse-only DIR`, which calls
//!   `poolguard::input::parse_only` — the same walk, reads and parsers, nothing else built.
//!
//! Wall time is the median of `--runs` runs after one warm-up, the three commands taking turns
//! (so that a noisy neighbour slows them alike); peak RSS comes from one extra
//! run under `/usr/bin/time -f %M` (getrusage of the child) when present, else from polling
//! `VmHWM` in `/proc/<pid>/status`. The table goes to stdout, `--json FILE` also writes it
//! as JSON lines.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The same allocator as the binary, so the parse-only floor is measured on equal terms.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SEED: u64 = 42;

struct Opts {
    services: Vec<usize>,
    runs: usize,
    shared: PathBuf,
    bin: PathBuf,
    json: Option<PathBuf>,
    builtin: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--parse-only") {
        let paths: Vec<PathBuf> = args[1..].iter().map(PathBuf::from).collect();
        let s = poolguard::input::parse_only(&paths, &poolguard::parse::Limits::default());
        println!(
            "{} files, {} bytes, {} documents, {} errors",
            s.files, s.bytes, s.docs, s.errors
        );
        return;
    }
    let opts = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "bench: {e}\nusage: bench [--services N ...] [--runs N] [--shared DIR] [--bin PATH] [--builtin-gen] [--json FILE]"
            );
            std::process::exit(2);
        }
    };
    if !opts.bin.is_file() {
        eprintln!(
            "bench: {} not found; build it first: cargo build --release",
            opts.bin.display()
        );
        std::process::exit(2);
    }
    let me = std::env::current_exe().expect("current exe");
    println!(
        "machine: {} × {} · runs: {} (median) · {}",
        nproc(),
        cpu_model(),
        opts.runs,
        opts.bin.display()
    );
    println!();
    println!(
        "| corpus | files | MB | check median s (min–max) | files/s | peak RSS MB | report median s | report RSS MB | parse-only median s | parse-only RSS MB | check ÷ parse-only |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for &n in &opts.services {
        let dir = corpus(n, &opts);
        let (files, bytes) = size_of(&dir);
        let check_cmd = || {
            let mut c = Command::new(&opts.bin);
            c.arg("check").arg(&dir);
            c
        };
        let report_cmd = || {
            let mut c = Command::new(&opts.bin);
            c.arg("report").arg(&dir);
            c
        };
        let floor_cmd = || {
            let mut c = Command::new(&me);
            c.arg("--parse-only").arg(&dir);
            c
        };
        let [check, report, floor] =
            measure_interleaved([&check_cmd, &report_cmd, &floor_cmd], opts.runs);
        let ratio = check.median.as_secs_f64() / floor.median.as_secs_f64();
        println!(
            "| s{n} | {files} | {:.1} | {:.3} ({:.3}–{:.3}) | {:.0} | {:.0} | {:.3} | {:.0} | {:.3} | {:.0} | {:.2}× |",
            bytes as f64 / 1e6,
            check.median.as_secs_f64(),
            check.min.as_secs_f64(),
            check.max.as_secs_f64(),
            files as f64 / check.median.as_secs_f64(),
            check.rss_kb as f64 / 1024.0,
            report.median.as_secs_f64(),
            report.rss_kb as f64 / 1024.0,
            floor.median.as_secs_f64(),
            floor.rss_kb as f64 / 1024.0,
            ratio
        );
        rows.push((n, files, bytes, check, report, floor));
    }
    println!();
    // Linearity: cost per file at each size against the smallest size above 1,000 files.
    let big: Vec<_> = rows.iter().filter(|r| r.1 >= 1000).collect();
    if big.len() >= 2 {
        let base = big[0];
        for r in &big[1..] {
            let files_x = r.1 as f64 / base.1 as f64;
            let time_x = r.3.median.as_secs_f64() / base.3.median.as_secs_f64();
            println!(
                "scaling s{} → s{}: {:.2}× the files, {:.2}× the check time ({:.2}× per file), {:.2}× the peak RSS",
                base.0,
                r.0,
                files_x,
                time_x,
                time_x / files_x,
                r.3.rss_kb as f64 / base.3.rss_kb.max(1) as f64
            );
        }
    }
    if let Some(path) = &opts.json {
        let mut out = String::new();
        for (n, files, bytes, c, r, f) in &rows {
            out.push_str(&format!(
                "{{\"corpus\":\"s{n}\",\"files\":{files},\"bytes\":{bytes},\"runs\":{},\"check_median_s\":{:.4},\"check_min_s\":{:.4},\"check_max_s\":{:.4},\"check_rss_kb\":{},\"report_median_s\":{:.4},\"report_rss_kb\":{},\"parse_only_median_s\":{:.4},\"parse_only_rss_kb\":{}}}\n",
                opts.runs,
                c.median.as_secs_f64(),
                c.min.as_secs_f64(),
                c.max.as_secs_f64(),
                c.rss_kb,
                r.median.as_secs_f64(),
                r.rss_kb,
                f.median.as_secs_f64(),
                f.rss_kb
            ));
        }
        std::fs::write(path, out).expect("write --json");
    }
}

fn parse_args(args: &[String]) -> Result<Opts, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut o = Opts {
        services: Vec::new(),
        runs: 5,
        shared: std::env::var_os("POOLGUARD_BENCH_SHARED")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("../shared/bench")),
        bin: root.join("target/release/poolguard"),
        json: None,
        builtin: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--services" => {
                let v = value()?;
                for part in v.split(',') {
                    o.services
                        .push(part.parse().map_err(|_| format!("bad --services {v}"))?);
                }
            }
            "--runs" => o.runs = value()?.parse().map_err(|_| "bad --runs")?,
            "--shared" => o.shared = PathBuf::from(value()?),
            "--bin" => o.bin = PathBuf::from(value()?),
            "--json" => o.json = Some(PathBuf::from(value()?)),
            "--builtin-gen" => o.builtin = true,
            // `cargo bench` passes `--bench`; numbers alone are sizes.
            "--bench" => {}
            other => match other.parse() {
                Ok(n) => o.services.push(n),
                Err(_) => return Err(format!("unknown argument {other}")),
            },
        }
    }
    if o.services.is_empty() {
        o.services = vec![62, 2000, 20000];
    }
    o.runs = o.runs.max(1);
    Ok(o)
}

/// The corpus of `n` services, generated on first use.
fn corpus(n: usize, o: &Opts) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-corpus");
    let script = o.shared.join("gen_corpus.py");
    let use_script = !o.builtin && script.is_file();
    let dir = base.join(if use_script {
        format!("s{n}")
    } else {
        format!("builtin-s{n}")
    });
    if dir.join(".complete").is_file() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&base).expect("create target/bench-corpus");
    let started = Instant::now();
    if use_script {
        let status = Command::new("python3")
            .arg(&script)
            .args(["--services", &n.to_string(), "--seed", &SEED.to_string()])
            .arg("--out")
            .arg(&dir)
            .stdout(Stdio::null())
            .status()
            .expect("run python3 gen_corpus.py");
        assert!(status.success(), "gen_corpus.py failed");
    } else {
        builtin_gen(n, &dir).expect("built-in generator");
    }
    std::fs::write(dir.join(".complete"), "").expect("mark corpus complete");
    eprintln!(
        "generated {} ({} in {:.1} s)",
        dir.display(),
        if use_script {
            "gen_corpus.py"
        } else {
            "built-in generator"
        },
        started.elapsed().as_secs_f64()
    );
    dir
}

struct Measured {
    median: Duration,
    min: Duration,
    max: Duration,
    rss_kb: u64,
}

/// Times the commands round-robin (a, b, c, a, b, c, …) so that a noisy neighbour slows
/// them alike and their ratio holds even when the absolute times drift.
fn measure_interleaved<const N: usize>(
    cmds: [&dyn Fn() -> Command; N],
    runs: usize,
) -> [Measured; N] {
    // Warm-up: page cache and the binaries themselves.
    for cmd in cmds {
        run_once(cmd);
    }
    let mut times: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::with_capacity(runs));
    for _ in 0..runs {
        for (cmd, t) in cmds.iter().zip(times.iter_mut()) {
            t.push(run_once(*cmd));
        }
    }
    std::array::from_fn(|i| {
        let t = &mut times[i];
        t.sort();
        Measured {
            median: t[t.len() / 2],
            min: t[0],
            max: t[t.len() - 1],
            rss_kb: peak_rss_kb(cmds[i]),
        }
    })
}

fn run_once(cmd: &dyn Fn() -> Command) -> Duration {
    let started = Instant::now();
    let status = cmd()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    let elapsed = started.elapsed();
    // `check` exits 1 when it has findings; 2 means it could not run.
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "benchmark command failed: {status}"
    );
    elapsed
}

/// Peak resident set of one run, in KiB.
fn peak_rss_kb(cmd: &dyn Fn() -> Command) -> u64 {
    let time = Path::new("/usr/bin/time");
    if time.is_file() {
        let probe = cmd();
        let out = std::env::temp_dir().join(format!("poolguard-bench-{}.rss", std::process::id()));
        let status = Command::new(time)
            .arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&out)
            .arg(probe.get_program())
            .args(probe.get_args())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let kb = std::fs::read_to_string(&out).ok().and_then(|s| {
            s.lines()
                .filter_map(|l| l.trim().parse::<u64>().ok())
                .next_back()
        });
        let _ = std::fs::remove_file(&out);
        if let (Ok(_), Some(kb)) = (status, kb) {
            return kb;
        }
    }
    // Fallback: poll the high-water mark while the child runs.
    let mut child = cmd()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path)
            && let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kb);
        }
        if child.try_wait().ok().flatten().is_some() {
            return peak;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn size_of(dir: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() && poolguard::walk::format_of(&e.path()).is_some() {
                files += 1;
                bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    (files, bytes)
}

fn nproc() -> String {
    std::thread::available_parallelism()
        .map(|n| format!("{n} CPUs"))
        .unwrap_or_else(|_| "? CPUs".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// A small deterministic stand-in for `gen_corpus.py` (same shapes, fewer variations): per
/// service a Deployment (DATABASE_URL to one of n/10 CloudNativePG clusters, a pool size in
/// env or in a Spring `application.yaml` ConfigMap), a Service, sometimes an HPA; per database
/// a `Cluster`; per team a Namespace.
fn builtin_gen(n: usize, dir: &Path) -> std::io::Result<()> {
    let mut rng = Lcg(SEED);
    let dbs = (n / 10).max(4);
    let teams = (n / 40).max(3);
    for t in 0..teams {
        let d = dir.join(format!("teams/team{t}"));
        std::fs::create_dir_all(&d)?;
        std::fs::write(
            d.join("namespace.yaml"),
            format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team{t}\n"),
        )?;
    }
    let dbdir = dir.join("platform/databases");
    std::fs::create_dir_all(&dbdir)?;
    for i in 0..dbs {
        let max = 100 + rng.below(400);
        std::fs::write(
            dbdir.join(format!("db{i}.yaml")),
            format!(
                "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: db{i}\n  namespace: data\nspec:\n  instances: 3\n  postgresql:\n    parameters:\n      max_connections: \"{max}\"\n      superuser_reserved_connections: \"3\"\n  storage:\n    size: 20Gi\n"
            ),
        )?;
    }
    for s in 0..n {
        let team = s % teams;
        let ns = format!("team{team}");
        let name = format!("svc{s}");
        let db = rng.below(dbs as u64);
        let replicas = 1 + rng.below(6);
        let surge = ["1", "25%", "50%", "2"][rng.below(4) as usize];
        let d = dir.join(format!("teams/team{team}/{name}"));
        std::fs::create_dir_all(&d)?;
        let spring = rng.below(2) == 0;
        let pool = 5 + rng.below(40);
        let pool_env = if spring {
            String::new()
        } else {
            format!("            - name: DB_POOL_SIZE\n              value: \"{pool}\"\n")
        };
        let mut deploy = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    app: {name}\nspec:\n  replicas: {replicas}\n  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: {surge}\n      maxUnavailable: 0\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/{name}:1.{s}\n          ports:\n            - containerPort: 8080\n          env:\n            - name: DATABASE_URL\n              value: postgres://app@db{db}-rw.data.svc.cluster.local:5432/app\n{pool_env}          resources:\n            limits:\n              cpu: 500m\n              memory: 512Mi\n          readinessProbe:\n            httpGet:\n              path: /healthz\n              port: 8080\n"
        );
        if spring {
            deploy.push_str("          volumeMounts:\n            - name: config\n              mountPath: /config\n      volumes:\n        - name: config\n          configMap:\n            name: ");
            deploy.push_str(&format!("{name}-config\n"));
            std::fs::write(
                d.join("configmap.yaml"),
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-config\n  namespace: {ns}\ndata:\n  application.yaml: |\n    spring:\n      datasource:\n        url: jdbc:postgresql://db{db}-rw.data.svc.cluster.local:5432/app\n        hikari:\n          maximum-pool-size: ${{DB_POOL_SIZE:{pool}}}\n"
                ),
            )?;
        }
        if rng.below(10) < 7 {
            deploy.push_str(&format!(
                "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  selector:\n    app: {name}\n  ports:\n    - port: 80\n      targetPort: 8080\n"
            ));
        }
        std::fs::write(d.join("deployment.yaml"), deploy)?;
        if rng.below(10) < 4 {
            let max = replicas + 1 + rng.below(8);
            std::fs::write(
                d.join("hpa.yaml"),
                format!(
                    "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: {name}\n  minReplicas: {replicas}\n  maxReplicas: {max}\n"
                ),
            )?;
        }
    }
    Ok(())
}

/// Numerical Recipes' 64-bit LCG: deterministic and dependency-free.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}
