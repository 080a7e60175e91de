//! The whole `check` pipeline (walk → parse → model → capacity + rules → render) on one
//! file written to a scratch directory. The first byte picks the file name (and so the parser
//! and the stack conventions); when the rest contains a NUL byte, the part before it is loaded
//! as `poolguard.yaml` first, as the CLI does. Never panics; renders every format.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use poolguard::check::{Request, run};
use poolguard::config::{self, Config};
use poolguard::render::{self, Format};
use poolguard::source::SourceDb;

const NAMES: &[&str] = &[
    "deploy.yaml",
    "stdin",
    "application.yml",
    "application-prod.properties",
    ".env",
    "pgbouncer.ini",
    "postgresql.conf",
    "appsettings.json",
    "config.toml",
    "database.yml",
    "list.json",
    "my.cnf",
];

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("poolguard-fuzz-check-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let name = NAMES[pick as usize % NAMES.len()];
    let (cfg_text, body) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
        None => (None, rest),
    };
    let dir = scratch();
    let mut db = SourceDb::default();
    let cfg = match cfg_text.map(String::from_utf8_lossy) {
        Some(t) => {
            let id = db.add("poolguard.yaml".into(), t.as_ref().into());
            config::load(&db, id).unwrap_or_default()
        }
        None => Config::default(),
    };
    let req = if name == "stdin" {
        Request {
            paths: vec![PathBuf::from("-")],
            stdin: Some(String::from_utf8_lossy(body).into_owned()),
            cwd: dir.clone(),
        }
    } else {
        // A fresh file each run: the walk sees exactly one input.
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        std::fs::write(dir.join(name), body).unwrap();
        Request {
            paths: vec![dir.clone()],
            stdin: None,
            cwd: dir.clone(),
        }
    };
    // `Err` only when policy evaluation exceeds its budget; there are no policies here.
    let (report, db) = run(req, db, &cfg, &[]).expect("no policies, no budget error");
    for f in Format::ALL {
        let out = render::render(f, &report, &db, true);
        // Some formats print nothing for a clean run; JSON always has its document.
        assert!(f != Format::Json || out.starts_with('{'), "{out}");
    }
});
