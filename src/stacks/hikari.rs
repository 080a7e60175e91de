//! Spring Boot with HikariCP: `spring.datasource.hikari.maximum-pool-size`, default 10.
//!
//! Property sources are searched in Spring Boot's precedence order: command-line
//! `--key=value`, `SPRING_APPLICATION_JSON`, `-Dkey=value` system properties, OS environment
//! (relaxed binding), then config files — mounted before packaged, profile-specific before
//! plain, `.properties` before YAML, later YAML documents before earlier ones — with
//! `${VAR:default}` placeholders resolved from the container environment.

use super::{ConfigEndpoint, Ctx, Pool, Setting, SettingKind, Stack};
use crate::model::mounts::ConfigFile;
use crate::parse::{self, Format, Limits, Node};
use crate::report::Fact;
use crate::source::Span;

/// The stack entry.
pub static STACK: Stack = Stack {
    name: "spring-hikari",
    detect,
};

const POOL_KEY: &str = "spring.datasource.hikari.maximum-pool-size";
const URL_KEY: &str = "spring.datasource.url";
const DEFAULT_POOL: i64 = 10;

/// A property value and where it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// Value after placeholder resolution.
    pub value: String,
    /// Where the value (or the placeholder's winning part) is written.
    pub span: Span,
    /// Human description of the source (`env SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE`).
    pub source: String,
}

fn detect(ctx: &Ctx) -> Option<Pool> {
    if !is_spring(ctx) {
        return None;
    }
    let props = Props::new(ctx);
    let (pool_max, unknown) = match props.get(POOL_KEY) {
        Some(f) => match parse::parse_int(f.value.trim()) {
            Some(v) => (Some(Fact::at(v, f.span)), None),
            None => (
                None,
                Some((
                    f.span,
                    format!("`{}` is not a number ({})", f.value, f.source),
                )),
            ),
        },
        None => (
            Some(Fact::default(
                DEFAULT_POOL,
                "HikariCP maximumPoolSize default",
            )),
            None,
        ),
    };
    let mut settings = Vec::new();
    for (key, kind) in [
        (
            "spring.datasource.hikari.minimum-idle",
            SettingKind::MinIdle,
        ),
        (
            "spring.datasource.hikari.connection-timeout",
            SettingKind::AcquireTimeoutMs,
        ),
    ] {
        if let Some(f) = props.get(key)
            && let Some(v) = parse::parse_int(f.value.trim())
        {
            settings.push(Setting {
                kind,
                value: Fact::at(v, f.span),
                what: key.to_string(),
            });
        }
    }
    let endpoints = props
        .get(URL_KEY)
        .map(|f| ConfigEndpoint {
            value: f.value,
            span: f.span,
            key: URL_KEY.to_string(),
            datasource: None,
        })
        .into_iter()
        .collect();
    Some(Pool {
        stack: "spring-hikari",
        pool_max,
        processes: Fact::default(1, "one JVM per container"),
        endpoints,
        unknown,
        settings,
    })
}

fn is_spring(ctx: &Ctx) -> bool {
    ctx.env.vars.iter().any(|v| {
        v.name.starts_with("SPRING_") || v.value.as_deref().is_some_and(|s| s.starts_with("jdbc:"))
    }) || ctx
        .args
        .iter()
        .any(|a| a.text.contains("--spring.") || a.text.contains("-Dspring."))
        || ctx.files.iter().any(|f| is_spring_file(&f.name))
}

fn is_spring_file(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    (n.starts_with("application") || n.starts_with("bootstrap"))
        && (n.ends_with(".yml") || n.ends_with(".yaml") || n.ends_with(".properties"))
}

/// Canonical form for relaxed comparison of property names.
fn canon(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.chars().filter(|c| *c != '-' && *c != '_') {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Whether an environment variable name binds to `key` under relaxed binding (both the
/// current `MAXIMUMPOOLSIZE` form and the legacy `MAXIMUM_POOL_SIZE` form). Compares
/// character by character: it runs for every variable on every property lookup.
fn env_binds(name: &str, key: &str) -> bool {
    // The variable as a property name: lower case, `_` read as `.`.
    let env = || {
        name.bytes().map(|b| match b {
            b'_' => b'.',
            b => b.to_ascii_lowercase(),
        })
    };
    let current = key
        .bytes()
        .filter(|b| *b != b'-')
        .map(|b| b.to_ascii_lowercase());
    let legacy = key.bytes().map(|b| match b {
        b'-' => b'.',
        b => b.to_ascii_lowercase(),
    });
    env().eq(current) || env().eq(legacy)
}

struct Props<'a> {
    ctx: &'a Ctx<'a>,
    /// The Spring config files, each document flattened once.
    docs: Vec<FlatFile<'a>>,
    /// Config-file entries, highest precedence first: (canonical key, node).
    file_entries: Vec<(String, &'a Node)>,
    app_json: Vec<(String, String)>,
}

impl<'a> Props<'a> {
    fn new(ctx: &'a Ctx<'a>) -> Props<'a> {
        let app_json = ctx
            .env
            .get("SPRING_APPLICATION_JSON")
            .and_then(|v| v.value.as_deref())
            .map(flatten_json)
            .unwrap_or_default();
        let mut p = Props {
            ctx,
            docs: flat_files(ctx.files),
            file_entries: Vec::new(),
            app_json,
        };
        let profiles = p.active_profiles();
        p.file_entries = file_entries(&p.docs, &profiles);
        p
    }

    /// Profiles from everything but the files, then from the files' plain documents.
    fn active_profiles(&self) -> Vec<String> {
        let raw = self
            .get_outside_files("spring.profiles.active")
            .map(|f| f.value)
            .or_else(|| {
                let entries = file_entries(&self.docs, &[]);
                let key = canon("spring.profiles.active");
                entries
                    .iter()
                    .find(|(k, _)| *k == key)
                    .and_then(|(_, n)| n.as_str().map(str::to_string))
            });
        raw.map(|r| {
            r.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
    }

    fn get_outside_files(&self, key: &str) -> Option<Found> {
        let ck = canon(key);
        // 1. Command-line arguments.
        for a in self.ctx.args.iter().rev() {
            for word in a.text.split_whitespace() {
                if let Some(kv) = word.strip_prefix("--")
                    && let Some((k, v)) = kv.split_once('=')
                    && canon(k) == ck
                {
                    return Some(self.found(v, a.span, format!("argument `--{k}`")));
                }
            }
        }
        // 2. SPRING_APPLICATION_JSON.
        if let Some((_, v)) = self.app_json.iter().rev().find(|(k, _)| canon(k) == ck) {
            let span = self
                .ctx
                .env
                .get("SPRING_APPLICATION_JSON")
                .map(|e| e.span)?;
            return Some(self.found(v, span, "SPRING_APPLICATION_JSON".into()));
        }
        // 3. Java system properties.
        let mut sys: Vec<(&str, Span)> = self
            .ctx
            .args
            .iter()
            .map(|a| (a.text.as_str(), a.span))
            .collect();
        for name in ["JAVA_TOOL_OPTIONS", "JAVA_OPTS", "JDK_JAVA_OPTIONS"] {
            if let Some(v) = self.ctx.env.get(name)
                && let Some(text) = v.value.as_deref()
            {
                sys.push((text, v.span));
            }
        }
        for (text, span) in sys.iter().rev() {
            for word in text.split_whitespace().rev() {
                if let Some(kv) = word.strip_prefix("-D")
                    && let Some((k, v)) = kv.split_once('=')
                    && canon(k) == ck
                {
                    return Some(self.found(v, *span, format!("system property `-D{k}`")));
                }
            }
        }
        // 4. OS environment, relaxed binding.
        for v in &self.ctx.env.vars {
            if env_binds(&v.name, key) {
                let value = v.value.clone().unwrap_or_default();
                return Some(Found {
                    value,
                    span: v.span,
                    source: format!("env {}", v.name),
                });
            }
        }
        None
    }

    fn get(&self, key: &str) -> Option<Found> {
        if let Some(f) = self.get_outside_files(key) {
            return Some(f);
        }
        let ck = canon(key);
        let (_, node) = self.file_entries.iter().find(|(k, _)| *k == ck)?;
        let text = node.as_str()?;
        Some(self.found(text, node.span, format!("`{key}`")))
    }

    /// Resolves `${VAR:default}` placeholders against the environment. When the whole value
    /// is one placeholder, the span moves to where the winning value is written.
    fn found(&self, value: &str, span: Span, source: String) -> Found {
        let (value, winner) = resolve_placeholders(value, self.ctx);
        Found {
            value,
            span: winner.unwrap_or(span),
            source,
        }
    }
}

/// Expands `${NAME}` / `${NAME:default}` against the container env (relaxed names too);
/// returns the text and, when the input was exactly one placeholder resolved from the
/// environment, the span of that env value.
fn resolve_placeholders(value: &str, ctx: &Ctx) -> (String, Option<Span>) {
    let lookup = |name: &str| {
        ctx.env
            .vars
            .iter()
            .find(|v| v.name == name || env_binds(&v.name, name))
            .and_then(|v| Some((v.value.clone()?, v.span)))
    };
    super::common::placeholders(value, &lookup)
}

fn flatten_json(text: &str) -> Vec<(String, String)> {
    let parsed = parse::parse(
        Format::Json,
        crate::source::FileId(0),
        text,
        &Limits::default(),
    );
    parsed
        .docs
        .first()
        .map(|d| {
            d.flatten()
                .into_iter()
                .filter_map(|(k, n)| Some((k, n.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A Spring config file with each document flattened once.
struct FlatFile<'a> {
    file: &'a ConfigFile,
    docs: Vec<FlatDoc<'a>>,
}

/// One document's scalar entries under canonical keys (see [`canon`]), in document order,
/// and the profile it applies to.
struct FlatDoc<'a> {
    entries: Vec<(String, &'a Node)>,
    profile: Option<String>,
}

fn flat_files(files: &[ConfigFile]) -> Vec<FlatFile<'_>> {
    files
        .iter()
        .filter(|f| is_spring_file(&f.name))
        .map(|file| FlatFile {
            file,
            docs: file
                .docs
                .iter()
                .map(|doc| {
                    let entries = canon_flatten(doc);
                    let profile = doc_profile(&entries);
                    FlatDoc { entries, profile }
                })
                .collect(),
        })
        .collect()
}

/// [`Node::flatten`] with each key in canonical form.
fn canon_flatten(doc: &Node) -> Vec<(String, &Node)> {
    let mut out = Vec::new();
    doc.any_leaf(&mut |key, node| {
        out.push((canon(key), node));
        false
    });
    out
}

/// Profile a YAML document applies to (`spring.config.activate.on-profile`, or the legacy
/// `spring.profiles`), if any.
fn doc_profile(entries: &[(String, &Node)]) -> Option<String> {
    entries
        .iter()
        .find(|(k, _)| k == "spring.config.activate.onprofile" || k == "spring.profiles")
        .and_then(|(_, n)| n.as_str().map(str::to_string))
}

/// Config-file entries, highest precedence first.
fn file_entries<'a>(files: &[FlatFile<'a>], profiles: &[String]) -> Vec<(String, &'a Node)> {
    // Rank: mounted (2) over packaged (0); profile-specific (+1) over plain. Within a rank,
    // `.properties` over YAML, later profiles over earlier ones, later documents over earlier.
    let mut ranked: Vec<(usize, &FlatFile<'a>)> = Vec::new();
    for flat in files {
        let f = flat.file;
        let stem = f.name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&f.name);
        let profile = stem
            .strip_prefix("application-")
            .or_else(|| stem.strip_prefix("bootstrap-"));
        let profile_rank = match profile {
            None => 0,
            Some(p) => match profiles.iter().position(|x| x == p) {
                Some(i) => 1 + i,
                None => continue,
            },
        };
        let loc = if f.mounted { 1000 } else { 0 };
        let fmt = usize::from(f.format == Format::Properties);
        ranked.push((loc + profile_rank * 2 + fmt, flat));
    }
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut out = Vec::new();
    for (_, flat) in ranked {
        for doc in flat.docs.iter().rev() {
            if let Some(p) = &doc.profile
                && !p.split(',').any(|p| profiles.iter().any(|a| a == p.trim()))
            {
                continue;
            }
            out.extend(doc.entries.iter().rev().map(|(k, n)| (k.clone(), *n)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_binding_accepts_current_and_legacy_env_names() {
        assert!(env_binds(
            "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE",
            POOL_KEY
        ));
        assert!(env_binds(
            "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE",
            POOL_KEY
        ));
        assert!(!env_binds("SPRING_DATASOURCE_HIKARI_MINIMUMIDLE", POOL_KEY));
        assert_eq!(
            canon("spring.datasource.hikari.maximumPoolSize"),
            canon(POOL_KEY)
        );
    }
}
