//! Finding input files: directories are walked honouring `.gitignore`, files are read as given.

use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::WalkState;

use crate::parse::Format;

/// A file to read, or a path that could not be walked.
#[derive(Debug)]
pub enum Entry {
    /// A file and the format it will be parsed as.
    File {
        /// Path on disk.
        path: PathBuf,
        /// Parser to use.
        format: Format,
    },
    /// A walk error (symlink loop, permission denied) at a path.
    Error {
        /// Where.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Whether a file name is one poolguard reads, and as what.
///
/// YAML and JSON are always read (any of them may hold Kubernetes objects). Line-oriented
/// formats are read only under the names service configs use, so an unrelated `nginx.conf`
/// or `Cargo.toml` is never reported as broken.
pub fn format_of(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_str()?;
    let lower = name.to_ascii_lowercase();
    let format = Format::from_path(&lower)?;
    let wanted = match format {
        Format::Yaml | Format::Json => true,
        Format::Properties => lower.starts_with("application") || lower.starts_with("bootstrap"),
        Format::Dotenv => true,
        Format::Ini => {
            lower == "pgbouncer.ini"
                || lower.starts_with("postgresql")
                || lower == "my.cnf"
                || lower.ends_with(".cnf")
        }
        // Service configs in TOML (attached to workloads by path); parse errors in other
        // TOML files are warnings, like any file that is not a manifest or a service config.
        Format::Toml => lower != "cargo.toml" && lower != "pyproject.toml",
    };
    wanted.then_some(format)
}

/// Whether a file name is a service config poolguard reads (as opposed to any YAML or INI
/// file that happens to sit in a ConfigMap): parse errors in those are findings.
pub fn is_service_config_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let stem_is = |p: &str| n.starts_with(p);
    ((stem_is("application") || stem_is("bootstrap"))
        && (n.ends_with(".yml") || n.ends_with(".yaml") || n.ends_with(".properties")))
        || n == "pgbouncer.ini"
        || (n.starts_with("postgresql") && n.ends_with(".conf"))
        || n.ends_with(".cnf")
        || n == "database.yml"
        || (n.starts_with("appsettings") && n.ends_with(".json"))
        || n == ".env"
        || n.starts_with(".env.")
        || n.ends_with(".env")
        || n == "www.conf"
        || n == "php-fpm.conf"
}

/// Whether a path is a Helm chart template (below a `templates/` folder of a chart).
pub fn is_helm_template(path: &Path) -> bool {
    path.ancestors().skip(1).any(|dir| {
        dir.file_name().is_some_and(|n| n == "templates")
            && dir
                .parent()
                .is_some_and(|chart| chart.join("Chart.yaml").is_file())
    })
}

/// Builds a glob set from config `ignore` patterns.
pub fn ignore_set(patterns: &[String]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        if let Ok(g) = Glob::new(p) {
            b.add(g);
        }
        // `dir/**` should also ignore `dir` itself when written as `dir/`.
        if let Ok(g) = Glob::new(&format!("{}/**", p.trim_end_matches('/'))) {
            b.add(g);
        }
    }
    b.build().unwrap_or_else(|_| GlobSet::empty())
}

/// Lists the files under `paths`, sorted, skipping those matched by `ignore` (relative to
/// `root`). Explicitly named files are read whatever their name, if their format is known.
pub fn walk(paths: &[PathBuf], root: &Path, ignore: &GlobSet) -> Vec<Entry> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_file() {
            let format = format_of(p).or_else(|| Format::from_path(&p.to_string_lossy()));
            match format {
                Some(format) => out.push(Entry::File {
                    path: p.clone(),
                    format,
                }),
                None => out.push(Entry::Error {
                    path: p.clone(),
                    message:
                        "not a format poolguard reads (YAML, JSON, TOML, .properties, .env, INI)"
                            .into(),
                }),
            }
            continue;
        }
        // Directories are read on every core; the order they are found in does not matter,
        // since the entries are sorted below.
        let found = Mutex::new(Vec::new());
        ignore::WalkBuilder::new(p)
            .hidden(false)
            .git_ignore(true)
            .git_global(false)
            .git_exclude(true)
            .require_git(false)
            .follow_links(true)
            .filter_entry(|e| e.file_name() != ".git")
            .build_parallel()
            .run(|| {
                let found = &found;
                Box::new(move |result| {
                    let entry = match result {
                        Ok(entry) => {
                            if !entry.file_type().is_some_and(|t| t.is_file()) {
                                return WalkState::Continue;
                            }
                            let path = entry.into_path();
                            let rel = path.strip_prefix(root).unwrap_or(&path);
                            if ignore.is_match(rel) {
                                return WalkState::Continue;
                            }
                            match format_of(&path) {
                                Some(format) => Entry::File { path, format },
                                None => return WalkState::Continue,
                            }
                        }
                        Err(e) => {
                            let path = error_path(&e).unwrap_or_else(|| p.clone());
                            let message = error_message(&e);
                            Entry::Error { path, message }
                        }
                    };
                    found.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
                    WalkState::Continue
                })
            });
        out.extend(found.into_inner().unwrap_or_else(|e| e.into_inner()));
    }
    sort_by_path(&mut out);
    out.dedup_by(|a, b| entry_path(a) == entry_path(b));
    out
}

/// Sorts entries by path (`Path`'s order: component by component). Each path is split into
/// components once, rather than once per comparison.
fn sort_by_path(entries: &mut Vec<Entry>) {
    type Key<'e> = (Vec<Component<'e>>, Option<&'e str>, usize);
    let mut keys: Vec<Key> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let error = match e {
                Entry::File { .. } => None,
                Entry::Error { message, .. } => Some(message.as_str()),
            };
            (entry_path(e).components().collect(), error, i)
        })
        .collect();
    // Equal paths (a file named twice, under two of the paths given): a file before an error,
    // then the order of the arguments.
    keys.sort_unstable();
    let order: Vec<usize> = keys.into_iter().map(|(_, _, i)| i).collect();
    let mut slots: Vec<Option<Entry>> = std::mem::take(entries).into_iter().map(Some).collect();
    entries.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

fn entry_path(e: &Entry) -> &Path {
    match e {
        Entry::File { path, .. } | Entry::Error { path, .. } => path,
    }
}

fn error_path(e: &ignore::Error) -> Option<PathBuf> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}

fn error_message(e: &ignore::Error) -> String {
    match e {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => error_message(err),
        ignore::Error::Loop { ancestor, .. } => {
            format!("symlink loop back to {}", ancestor.display())
        }
        other => other.to_string(),
    }
}
