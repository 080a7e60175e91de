//! Diff mode (`check --base REF`): the same check as of a git revision, and what changed.
//!
//! The revision is read with git alone — `rev-parse`, `ls-tree` and one `cat-file --batch`
//! process for every blob — into a temporary directory that mirrors the repository layout,
//! so config discovery, `policies/`, `.gitignore` and repo-relative paths behave exactly as in
//! the work tree. The work tree, the index and HEAD are never touched. The pipeline then runs
//! there unchanged ([`check::run`]), with the config and policies as of the revision, and the
//! result is kept as a [`Baseline`] beside the current [`Report`]: per database its figures
//! then, per finding whether it is new (same rule, database, workload and file — not line
//! numbers, which move).

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::check::{self, Request};
use crate::config::{self, Config, Scenario};
use crate::diag::Diagnostic;
use crate::parse::Format;
use crate::policy;
use crate::redact::redact;
use crate::render::position;
use crate::report::{Baseline, ClientReport, DatabaseReport, FindingKey, Report, normalize};
use crate::source::SourceDb;

/// What to compare against.
#[derive(Debug)]
pub struct BaseRequest<'a> {
    /// The git revision (`HEAD~1`, `origin/main`, a commit id).
    pub git_ref: &'a str,
    /// The paths of the current run, as given.
    pub paths: &'a [PathBuf],
    /// `--config`, as given.
    pub config: Option<&'a Path>,
    /// The config file the current run uses (given or discovered), if any: one outside the
    /// repository applies to the base run too.
    pub head_config: Option<&'a Path>,
    /// `--scenario`, which overrides the base revision's config as it does the current one.
    pub scenario: Option<Scenario>,
    /// The current run's gating scenario (the figure change lines compare).
    pub head_scenario: Scenario,
    /// The current directory.
    pub cwd: &'a Path,
}

/// The base run, and what the user should know about it.
#[derive(Debug)]
pub struct BaseRun {
    /// What the comparison needs.
    pub baseline: Baseline,
    /// Problems that did not stop the base run (an invalid config at the revision, …).
    pub warnings: Vec<String>,
}

/// Evaluates the repository as of `req.git_ref`. Fails (exit 2) when the paths are not in a
/// git repository, the revision is unknown, or git cannot be run.
pub fn baseline(req: &BaseRequest) -> Result<BaseRun, String> {
    let git_ref = req.git_ref;
    if req.paths.iter().any(|p| p.as_os_str() == "-") {
        return Err(
            "--base cannot compare standard input (`-`): check files in a repository".into(),
        );
    }
    let first = req
        .paths
        .first()
        .map(|p| req.cwd.join(p))
        .unwrap_or_else(|| req.cwd.to_path_buf());
    let start = if first.is_dir() {
        first.clone()
    } else {
        first
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| req.cwd.to_path_buf())
    };
    let top = toplevel(&start)?;
    if git_ref.is_empty() || git_ref.starts_with('-') {
        return Err(format!("--base: unknown git revision `{git_ref}`"));
    }
    let commit = git_out(git(&top).args([
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{git_ref}^{{commit}}"),
    ]))
    .map_err(|_| {
        format!(
            "--base: unknown git revision `{git_ref}` in {}",
            top.display()
        )
    })?;
    let commit = String::from_utf8_lossy(&commit).trim().to_string();

    let tmp = TempDir::new()?;
    let root = tmp.path.clone();
    let mut warnings = Vec::new();
    let cwd = canonical(req.cwd);

    // Phase 1: the paths, and what config discovery and walking look at above them.
    let mut specs: Vec<PathBuf> = Vec::new();
    let mapped: Vec<Mapped> = req.paths.iter().map(|p| map(p, &cwd, &top)).collect();
    for m in &mapped {
        if let Mapped::Inside(rel) = m {
            specs.push(rel.clone());
        }
    }
    let first_rel = match mapped.first() {
        Some(Mapped::Inside(rel)) => Some(rel.clone()),
        Some(Mapped::Outside(_)) => None,
        None => match map(Path::new("."), &cwd, &top) {
            Mapped::Inside(rel) => Some(rel),
            Mapped::Outside(_) => None,
        },
    };
    if let Some(rel) = &first_rel {
        let mut dir = if top.join(rel).is_dir() {
            Some(rel.as_path())
        } else {
            rel.parent()
        };
        while let Some(d) = dir {
            for name in [
                "poolguard.yaml",
                ".poolguard.yaml",
                "policies",
                ".gitignore",
                ".ignore",
            ] {
                specs.push(d.join(name));
            }
            dir = d.parent();
        }
    }
    if let Some(c) = req.config
        && let Mapped::Inside(rel) = map(c, &cwd, &top)
    {
        specs.push(rel);
    }
    extract(&top, &commit, &specs, &root)?;

    // The paths as of the revision.
    let mut paths = Vec::new();
    for (p, m) in req.paths.iter().zip(&mapped) {
        match m {
            Mapped::Inside(rel) => {
                let there = root.join(rel);
                if req.cwd.join(p).is_dir() {
                    std::fs::create_dir_all(&there).map_err(|e| tmp_error(&there, &e))?;
                    paths.push(there);
                } else if there.exists() {
                    paths.push(there);
                }
                // A file that did not exist at the revision is simply not read there.
            }
            Mapped::Outside(abs) => paths.push(abs.clone()),
        }
    }
    if req.paths.is_empty() {
        // `check` with no path checks `.`.
        if let Some(rel) = &first_rel {
            let there = root.join(rel);
            std::fs::create_dir_all(&there).map_err(|e| tmp_error(&there, &e))?;
            paths.push(there);
        }
    }
    let base_cwd = match map(&cwd, &cwd, &top) {
        Mapped::Inside(rel) => {
            let d = root.join(rel);
            std::fs::create_dir_all(&d).map_err(|e| tmp_error(&d, &e))?;
            d
        }
        Mapped::Outside(_) => cwd.clone(),
    };

    // The config as of the revision.
    let config_path = match req.config {
        Some(c) => match map(c, &cwd, &top) {
            Mapped::Inside(rel) if root.join(&rel).is_file() => Some(root.join(rel)),
            Mapped::Inside(_) => {
                warnings.push(format!(
                    "{} did not exist at {git_ref}: the base run uses the default settings",
                    c.display()
                ));
                None
            }
            Mapped::Outside(abs) => Some(abs),
        },
        None => {
            let start = paths.first().cloned().unwrap_or_else(|| base_cwd.clone());
            check::discover_config(&start)
                .filter(|p| p.starts_with(&root))
                .or_else(|| {
                    let h = req.head_config?;
                    match map(h, &cwd, &top) {
                        Mapped::Outside(abs) => Some(abs),
                        Mapped::Inside(_) => None,
                    }
                })
        }
    };
    let mut db = SourceDb::default();
    let mut cfg = match &config_path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(text) => {
                let id = db.add(crate::input::display_path(p, &base_cwd), text.into());
                match config::load(&db, id) {
                    Ok(c) => c,
                    Err(e) => {
                        warnings.push(format!(
                            "the config as of {git_ref} is invalid, so the base run uses the default settings:\n{}",
                            unmirror(&e.0.join("\n"), &root, &top)
                        ));
                        Config::default()
                    }
                }
            }
            Err(e) => {
                warnings.push(format!("{}: {e}", unmirror_path(p, &root, &top).display()));
                Config::default()
            }
        },
        None => Config::default(),
    };
    if let Some(s) = req.scenario {
        cfg.scenario = s;
    }

    // Phase 2: policy paths named in the config. Those inside the repository are read as of
    // the revision; those outside it are the same files for both runs.
    if let Some(cp) = config_path.as_ref().filter(|p| p.starts_with(&root)) {
        let dir = cp.parent().unwrap_or(&root);
        let mut more = Vec::new();
        for (p, _) in &mut cfg.policies {
            let real = normalize(&unmirror_path(dir, &root, &top).join(&*p));
            match real.strip_prefix(&top) {
                Ok(rel) => more.push(rel.to_path_buf()),
                Err(_) => *p = real.to_string_lossy().into_owned(),
            }
        }
        if !more.is_empty() {
            extract(&top, &commit, &more, &root)?;
        }
    }
    let run_root = check::run_root(&cfg, &db, &base_cwd, &paths);
    let policy_files = check::policy_paths(&run_root, &cfg, &db, &base_cwd);
    let policies = match policy::load(&policy_files, &mut db, &base_cwd) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(format!(
                "the policies as of {git_ref} are invalid, so the base run has none:\n{}",
                unmirror(&e.join("\n"), &root, &top)
            ));
            Vec::new()
        }
    };
    let request = Request {
        paths,
        stdin: None,
        cwd: base_cwd.clone(),
    };
    let (report, db) = check::run(request, db, &cfg, &policies)
        .map_err(|e| format!("at {git_ref}: {}", unmirror(&e, &root, &top)))?;

    let findings: HashSet<FindingKey> = report
        .findings
        .iter()
        .map(|d| {
            let mut k = FindingKey::of(d, &db, &base_cwd);
            k.path = unmirror_path(&k.path, &root, &top);
            k
        })
        .collect();
    Ok(BaseRun {
        baseline: Baseline {
            git_ref: git_ref.to_string(),
            commit,
            scenario: req.head_scenario,
            databases: report.databases,
            findings,
            cwd: req.cwd.to_path_buf(),
        },
        warnings,
    })
}

/// Runs the base evaluation for `req` and attaches it to `report` (both `check --base` and
/// `report --base`); what the user should know about the base run goes to stderr.
pub fn attach(report: &mut Report, req: &BaseRequest) -> Result<(), String> {
    let base = baseline(req)?;
    for w in &base.warnings {
        eprintln!("poolguard: warning: {w}");
    }
    report.base = Some(base.baseline);
    Ok(())
}

/// The lines human output prints after the findings with `--base`: a header, each new finding,
/// and one line per database whose figures or clients changed. Empty without a base.
pub fn change_lines(report: &Report, db: &SourceDb) -> String {
    let Some(base) = &report.base else {
        return String::new();
    };
    let new: Vec<&Diagnostic> = report
        .findings
        .iter()
        .filter(|d| base.is_new(d, db))
        .collect();
    let lines = database_changes(report);
    let mut out = format!(
        "{}: {}, {}\n",
        compared_with(base),
        count(new.len(), "new finding", "new findings"),
        count(lines.len(), "database changed", "databases changed"),
    );
    for d in new {
        let at = position(db, d.primary.span);
        out.push_str(&format!(
            "new {}[{}]: {}:{}:{}\n",
            d.severity.as_str(),
            clean(&d.rule),
            clean(at.path),
            at.line,
            at.column
        ));
    }
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// `compared with origin/main (1a2b3c4d5e)`.
pub fn compared_with(base: &Baseline) -> String {
    let short = &base.commit[..base.commit.len().min(10)];
    format!("compared with {} ({short})", clean(&base.git_ref))
}

/// With a base: one line per database whose figures or clients changed (databases gone since
/// the base last), as `check`'s human output and every `report` format print them. Empty
/// without a base.
pub fn database_changes(report: &Report) -> Vec<String> {
    let Some(base) = &report.base else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for d in &report.databases {
        if let Some(l) = database_change(d, base.database(&d.id), base.scenario) {
            lines.push(l);
        }
    }
    for b in &base.databases {
        if report.databases.iter().all(|d| d.id != b.id) {
            let (name, metric) = figure(base.scenario);
            lines.push(format!(
                "{}: removed (was {name} {} of {})",
                clean(&b.id),
                number(metric(b)),
                b.capacity
            ));
        }
    }
    lines
}

/// `prod/auth-db: rollout 146 → 236 (+90, 74 % → 120 % of 197; ok → error) — moved by
/// prod/Deployment/auth (+90)`, or `None` when nothing about the database changed.
fn database_change(
    d: &DatabaseReport,
    base: Option<&DatabaseReport>,
    scenario: Scenario,
) -> Option<String> {
    let (name, metric) = figure(scenario);
    let id = clean(&d.id);
    let Some(b) = base else {
        let mut s = format!(
            "{id}: new database — {name} {} ({} of {}; {})",
            number(metric(d)),
            percent(metric(d), d.capacity),
            d.capacity,
            d.status.as_str()
        );
        s.push_str(&moved_by(&[], &d.clients, scenario));
        return Some(s);
    };
    let same = b.capacity == d.capacity
        && b.steady == d.steady
        && b.rollout == d.rollout
        && b.all_rollouts == d.all_rollouts
        && b.status == d.status
        && b.clients == d.clients;
    if same {
        return None;
    }
    let (before, after) = (metric(b), metric(d));
    let mut parts = Vec::new();
    if let (Some(x), Some(y)) = (before, after) {
        parts.push(signed(y - x));
    }
    if b.capacity == d.capacity {
        parts.push(format!(
            "{} → {} of {}",
            percent(before, b.capacity),
            percent(after, d.capacity),
            d.capacity
        ));
    } else {
        parts.push(format!(
            "{} of {} → {} of {}",
            percent(before, b.capacity),
            b.capacity,
            percent(after, d.capacity),
            d.capacity
        ));
    }
    let mut s = format!(
        "{id}: {name} {} → {} ({}",
        number(before),
        number(after),
        parts.join(", ")
    );
    if b.status != d.status {
        s.push_str(&format!("; {} → {}", b.status.as_str(), d.status.as_str()));
    }
    s.push(')');
    s.push_str(&moved_by(&b.clients, &d.clients, scenario));
    Some(s)
}

/// A client's identity in a database: workload id and the pooler it goes through.
type ClientKey = (String, Option<String>);
/// A client before and after.
type ClientPair<'a> = (Option<&'a ClientReport>, Option<&'a ClientReport>);

/// ` — moved by W (+60), V (new, +10)`: the clients whose demand changed, largest first.
fn moved_by(before: &[ClientReport], after: &[ClientReport], scenario: Scenario) -> String {
    let key = |c: &ClientReport| (c.workload.clone(), c.via.clone());
    let mut all: BTreeMap<ClientKey, ClientPair> = BTreeMap::new();
    for c in before {
        all.entry(key(c)).or_default().0 = Some(c);
    }
    for c in after {
        all.entry(key(c)).or_default().1 = Some(c);
    }
    let share = |c: &ClientReport| match scenario {
        Scenario::Steady => c.steady,
        _ => c.peak,
    };
    let mut moved: Vec<(i64, String)> = Vec::new();
    for ((workload, _), (b, a)) in all {
        let what = match (b, a) {
            (Some(b), Some(a)) if b == a => continue,
            (Some(b), Some(a)) => match (share(b), share(a)) {
                (Some(x), Some(y)) => (y - x, signed(y - x)),
                _ => (0, "changed".to_string()),
            },
            (None, Some(a)) => match share(a) {
                Some(y) => (y, format!("new, {}", signed(y))),
                None => (0, "new".to_string()),
            },
            (Some(b), None) => match share(b) {
                Some(x) => (-x, format!("removed, {}", signed(-x))),
                None => (0, "removed".to_string()),
            },
            (None, None) => continue,
        };
        moved.push((what.0, format!("{} ({})", clean(&workload), what.1)));
    }
    if moved.is_empty() {
        return String::new();
    }
    moved.sort_by_key(|(delta, _)| std::cmp::Reverse(delta.abs()));
    const SHOWN: usize = 3;
    let more = moved.len().saturating_sub(SHOWN);
    let mut names: Vec<String> = moved.into_iter().take(SHOWN).map(|(_, s)| s).collect();
    if more > 0 {
        names.push(format!("and {more} more"));
    }
    format!(" — moved by {}", names.join(", "))
}

type Metric = fn(&DatabaseReport) -> Option<i64>;

/// The figure a scenario gates on, and its name.
fn figure(scenario: Scenario) -> (&'static str, Metric) {
    match scenario {
        Scenario::Steady => ("steady", |d| d.steady),
        Scenario::Rollout => ("rollout", |d| d.rollout),
        Scenario::AllRollouts => ("all-rollouts", |d| d.all_rollouts),
    }
}

fn number(v: Option<i64>) -> String {
    v.map_or_else(|| "unknown".to_string(), |v| v.to_string())
}

fn percent(v: Option<i64>, capacity: i64) -> String {
    match v {
        Some(v) if capacity > 0 => format!("{} %", (v as f64 * 100.0 / capacity as f64).round()),
        _ => "? %".to_string(),
    }
}

fn signed(v: i64) -> String {
    match v {
        0 => "±0".to_string(),
        v if v > 0 => format!("+{v}"),
        v => format!("−{}", v.unsigned_abs()),
    }
}

/// `no databases`, `1 database`, `2 databases`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => format!("no {many}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// Text from the repository, safe for a terminal line: secrets masked, control characters
/// replaced.
fn clean(s: &str) -> String {
    redact(s)
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reading a revision with git.

/// A path of the current run, relative to the repository or outside it.
enum Mapped {
    /// Repository-relative.
    Inside(PathBuf),
    /// Absolute; the same file serves both runs.
    Outside(PathBuf),
}

fn map(p: &Path, cwd: &Path, top: &Path) -> Mapped {
    let abs = canonical(&cwd.join(p));
    match abs.strip_prefix(top) {
        Ok(rel) => Mapped::Inside(rel.to_path_buf()),
        Err(_) => Mapped::Outside(abs),
    }
}

/// The canonical form of a path when it exists, else its lexical normal form.
fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| normalize(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())))
}

/// A path in the mirror as the work-tree path it stands for.
fn unmirror_path(p: &Path, root: &Path, top: &Path) -> PathBuf {
    match p.strip_prefix(root) {
        Ok(rel) => top.join(rel),
        Err(_) => p.to_path_buf(),
    }
}

/// Text mentioning mirror paths with the work-tree paths instead.
fn unmirror(text: &str, root: &Path, top: &Path) -> String {
    text.replace(&*root.to_string_lossy(), &top.to_string_lossy())
}

fn tmp_error(p: &Path, e: &std::io::Error) -> String {
    format!("--base: cannot write {}: {e}", p.display())
}

/// A git command run in `dir`. Pathspecs are literal (no globbing of file names), and
/// relative `GIT_DIR`-style variables that hooks set are made absolute, since `-C` would
/// otherwise move them.
fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("--literal-pathspecs").arg("-C").arg(dir);
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_COMMON_DIR",
        "GIT_OBJECT_DIRECTORY",
    ] {
        if let Some(v) = std::env::var_os(var) {
            let p = PathBuf::from(&v);
            if p.is_relative()
                && let Ok(a) = std::path::absolute(&p)
            {
                c.env(var, a);
            }
        }
    }
    c.env("GIT_OPTIONAL_LOCKS", "0");
    c.stdin(Stdio::null());
    c
}

/// Runs a git command; its stdout, or its stderr as the error.
fn git_out(cmd: &mut Command) -> Result<Vec<u8>, String> {
    let out = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .output()
        .map_err(|e| format!("--base: cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The repository's top-level directory (canonical).
fn toplevel(dir: &Path) -> Result<PathBuf, String> {
    let out = git_out(git(dir).args(["rev-parse", "--show-toplevel"])).map_err(|e| {
        if e.starts_with("--base: cannot run git") {
            e
        } else {
            format!(
                "--base needs a git repository, and {} is not in one",
                dir.display()
            )
        }
    })?;
    let mut bytes = out;
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    if bytes.is_empty() {
        return Err(format!(
            "--base needs a work tree, and {} has none",
            dir.display()
        ));
    }
    Ok(canonical(&path_from_bytes(bytes)))
}

#[cfg(unix)]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(OsString::from(String::from_utf8_lossy(&bytes).into_owned()))
}

/// Whether the mirror needs a file: what poolguard may read, and ignore files.
fn wanted(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name == ".gitignore" || name == ".ignore" || Format::from_path(&name).is_some()
}

/// Writes the files under `specs` (repository-relative) as of `commit` below `root`:
/// one `ls-tree`, then one `cat-file --batch` for every blob.
fn extract(top: &Path, commit: &str, specs: &[PathBuf], root: &Path) -> Result<(), String> {
    if specs.is_empty() {
        return Ok(());
    }
    let mut ls = git(top);
    ls.args(["ls-tree", "-r", "-z", "--full-tree", commit, "--"]);
    for s in specs {
        if s.as_os_str().is_empty() {
            ls.arg(".");
        } else {
            ls.arg(s);
        }
    }
    let listing = git_out(&mut ls).map_err(|e| format!("--base: git ls-tree failed: {e}"))?;
    // oid → (repo-relative path, is symlink)
    let mut blobs: BTreeMap<String, Vec<(PathBuf, bool)>> = BTreeMap::new();
    for rec in listing.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let Some(tab) = rec.iter().position(|b| *b == b'\t') else {
            continue;
        };
        let meta = String::from_utf8_lossy(&rec[..tab]);
        let mut it = meta.split(' ');
        let (Some(mode), Some(kind), Some(oid)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if kind != "blob" {
            continue; // submodules
        }
        let rel = path_from_bytes(rec[tab + 1..].to_vec());
        let safe = rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !safe || !wanted(&rel) {
            continue;
        }
        blobs
            .entry(oid.to_string())
            .or_default()
            .push((rel, mode == "120000"));
    }
    if blobs.is_empty() {
        return Ok(());
    }
    let mut child = git(top)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("--base: cannot run git: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let oids: Vec<String> = blobs.keys().cloned().collect();
    // Written from a thread: git answers while we ask, and both pipes have finite buffers.
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(&mut stdin);
        for oid in &oids {
            writeln!(w, "{oid}")?;
        }
        w.flush()
    });
    let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut result = read_blobs(&mut out, &blobs, root);
    // Closing our end stops git early when reading failed; then both ends are reaped.
    drop(out);
    let _ = writer.join();
    let status = child.wait().map_err(|e| e.to_string())?;
    if result.is_ok() && !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        result = Err(format!("--base: git cat-file failed: {}", err.trim()));
    }
    result
}

/// Reads `cat-file --batch` answers for every blob and writes them at their paths.
fn read_blobs(
    out: &mut impl BufRead,
    blobs: &BTreeMap<String, Vec<(PathBuf, bool)>>,
    root: &Path,
) -> Result<(), String> {
    let io = |e: std::io::Error| format!("--base: reading git cat-file output: {e}");
    let mut header = String::new();
    for _ in 0..blobs.len() {
        header.clear();
        if out.read_line(&mut header).map_err(io)? == 0 {
            return Err("--base: git cat-file ended early".to_string());
        }
        let mut it = header.split_whitespace();
        let (Some(oid), Some(kind)) = (it.next(), it.next()) else {
            return Err(format!(
                "--base: unexpected git cat-file output `{}`",
                header.trim()
            ));
        };
        if kind == "missing" {
            continue;
        }
        let size: usize = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut content = vec![0u8; size];
        out.read_exact(&mut content).map_err(io)?;
        let mut nl = [0u8; 1];
        out.read_exact(&mut nl).map_err(io)?;
        for (rel, symlink) in blobs.get(oid).map(Vec::as_slice).unwrap_or_default() {
            let dest = root.join(rel);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| tmp_error(parent, &e))?;
            }
            if *symlink {
                // A link inside the repository resolves inside the mirror as well.
                #[cfg(unix)]
                {
                    let target = path_from_bytes(content.clone());
                    let _ = std::os::unix::fs::symlink(target, &dest);
                }
            } else {
                std::fs::write(&dest, &content).map_err(|e| tmp_error(&dest, &e))?;
            }
        }
    }
    Ok(())
}

/// A directory under the system temp dir, removed with everything in it when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<TempDir, String> {
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut last = None;
        for i in 0..100u32 {
            let p = base.join(format!(
                "poolguard-base-{}-{nanos:x}-{i}",
                std::process::id()
            ));
            match std::fs::create_dir(&p) {
                Ok(()) => {
                    return Ok(TempDir {
                        path: std::fs::canonicalize(&p).unwrap_or(p),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(tmp_error(&p, &e)),
            }
        }
        Err(format!(
            "--base: cannot create a temporary directory in {}: {}",
            base.display(),
            last.map_or_else(String::new, |e| e.to_string())
        ))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Status;

    fn db(steady: i64, rollout: i64, status: Status, clients: Vec<ClientReport>) -> DatabaseReport {
        DatabaseReport {
            id: "prod/auth-db".into(),
            engine: "postgres".into(),
            max_connections: 200,
            reserved: 3,
            headroom: 0,
            capacity: 197,
            steady: Some(steady),
            rollout: Some(rollout),
            all_rollouts: Some(rollout + 18),
            status,
            clients,
        }
    }

    fn client(w: &str, steady: i64, peak: i64) -> ClientReport {
        ClientReport {
            workload: w.into(),
            via: None,
            pods_steady: Some(6),
            pods_peak: Some(9),
            conn_pod: Some(steady / 6),
            steady: Some(steady),
            peak: Some(peak),
        }
    }

    #[test]
    fn one_line_per_changed_database() {
        let before = db(
            116,
            146,
            Status::Ok,
            vec![client("prod/Deployment/auth", 60, 90)],
        );
        let after = db(
            176,
            236,
            Status::Error,
            vec![client("prod/Deployment/auth", 120, 180)],
        );
        assert_eq!(
            database_change(&after, Some(&before), Scenario::Rollout).unwrap(),
            "prod/auth-db: rollout 146 → 236 (+90, 74 % → 120 % of 197; ok → error) — moved by prod/Deployment/auth (+90)"
        );
        assert_eq!(
            database_change(&after, Some(&after), Scenario::Rollout),
            None
        );
        let s = database_change(&after, None, Scenario::Steady).unwrap();
        assert_eq!(
            s,
            "prod/auth-db: new database — steady 176 (89 % of 197; error) — moved by prod/Deployment/auth (new, +120)"
        );
    }

    #[test]
    fn signs_and_percentages() {
        assert_eq!(signed(-10), "−10");
        assert_eq!(signed(0), "±0");
        assert_eq!(percent(Some(176), 197), "89 %");
        assert_eq!(percent(None, 197), "? %");
        assert_eq!(percent(Some(1), 0), "? %");
        assert_eq!(clean("a\x1b[31mb"), "a\u{fffd}[31mb");
    }
}
