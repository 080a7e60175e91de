//! Rails ActiveRecord: `pool` (Rails 8.1: `max_connections`) in `config/database.yml`, or
//! `?pool=` in `DATABASE_URL`, else `RAILS_MAX_THREADS`, else 5 (domain.md §1.3; the default
//! ConnectionPool size is 5, https://api.rubyonrails.org/classes/ActiveRecord/ConnectionAdapters/ConnectionPool.html).
//!
//! - `database.yml` is read when mounted or attached; the section is `RAILS_ENV`, else
//!   `RACK_ENV`, else `production`. Its ERB values are evaluated against the container env:
//!   `<%= ENV.fetch("X") { N } %>`, `<%= ENV.fetch("X", N) %>`, `<%= ENV["X"] || N %>`,
//!   with `.to_i`, `Integer(…)` and nesting. The ERB tags sit inside plain YAML scalars, so the
//!   file parses as YAML; anchors and `<<:` merges are applied by the parser.
//! - A URL (`DATABASE_URL` for the primary configuration, `<NAME>_DATABASE_URL` or `url:` for
//!   others) is merged over the hash and wins for the keys it sets, `pool` included
//!   (https://guides.rubyonrails.org/configuring.html#connection-preference).
//! - Multi-database (three-tier) sections have one pool per configuration; the largest counts.
//! - Processes: Sidekiq (`sidekiq` in the command) runs one process whose `-c`/`--concurrency`
//!   (else `RAILS_MAX_THREADS`, which Sidekiq honours) share the pool. Otherwise Puma:
//!   `-w`/`--workers`, else `WEB_CONCURRENCY` (0 is single mode: one process; `auto` is the CPU
//!   count), threads `-t min:max` else `RAILS_MAX_THREADS` share each process's pool.

use super::common::{self, Word};
use super::{ConfigEndpoint, Ctx, Pool, Setting, SettingKind, Stack};
use crate::model::endpoint;
use crate::parse::{Format, Node};
use crate::report::Fact;
use crate::source::Span;

/// The stack entry.
pub static STACK: Stack = Stack {
    name: "rails",
    detect,
};

const DEFAULT_POOL: i64 = 5;
/// Keys that mark a database configuration (as opposed to a map of named configurations).
const CONFIG_KEYS: &[&str] = &[
    "adapter",
    "database",
    "url",
    "host",
    "pool",
    "max_connections",
    "username",
    "socket",
];

fn detect(ctx: &Ctx) -> Option<Pool> {
    let words = common::words(ctx.args);
    let db_yml = ctx
        .files
        .iter()
        .filter(|f| {
            f.format == Format::Yaml && matches!(f.name.as_str(), "database.yml" | "database.yaml")
        })
        .max_by_key(|f| f.mounted);
    let rails_env = ctx.env.vars.iter().any(|v| v.name.starts_with("RAILS_"));
    let rails_cmd = common::program(&words, &["rails", "puma", "sidekiq"]).is_some();
    if db_yml.is_none() && !rails_env && !rails_cmd {
        return None;
    }
    let env_name = ["RAILS_ENV", "RACK_ENV"]
        .iter()
        .find_map(|n| common::env_str(ctx, n))
        .map_or("production", |(v, _)| v.trim());

    let mut pools: Vec<Fact> = Vec::new();
    let mut unknown: Option<(Span, String)> = None;
    let mut settings = Vec::new();
    let mut endpoints = Vec::new();
    let configs: Vec<(String, &Node)> = db_yml
        .and_then(|f| f.docs.first())
        .and_then(|d| d.get(env_name))
        .map(named_configs)
        .unwrap_or_default();
    match db_yml {
        Some(f) => {
            if configs.is_empty() {
                // No section for this environment: only the URL can say.
                match url_pool(ctx, "DATABASE_URL") {
                    None => pools.push(Fact::default(DEFAULT_POOL, "ActiveRecord pool default")),
                    Some(Ok(f)) => pools.push(f),
                    Some(Err(e)) => unknown = Some(e),
                }
            }
            for (i, (name, cfg)) in configs.iter().enumerate() {
                let env_url = if i == 0 {
                    "DATABASE_URL".to_string()
                } else {
                    format!("{}_DATABASE_URL", name.to_ascii_uppercase())
                };
                let label = format!("`{}` {env_name}.{name}", f.name);
                match config_pool(ctx, cfg, &env_url, &label) {
                    Ok(p) => pools.push(p),
                    Err(e) => {
                        unknown.get_or_insert(e);
                    }
                }
                settings.extend(config_settings(ctx, cfg, &label));
                endpoints.extend(config_endpoint(ctx, cfg, &label));
            }
        }
        None => {
            let p = match url_pool(ctx, "DATABASE_URL") {
                Some(r) => r,
                None => match common::env_int(ctx, "RAILS_MAX_THREADS") {
                    Some(r) => r,
                    None => Ok(Fact::default(
                        DEFAULT_POOL,
                        "Rails database.yml pool: RAILS_MAX_THREADS or 5",
                    )),
                },
            };
            match p {
                Ok(f) => pools.push(f),
                Err(e) => unknown = Some(e),
            }
        }
    }
    let (processes, proc_settings, proc_unknown) = processes(ctx, &words);
    settings.extend(proc_settings);
    let unknown = unknown.or(proc_unknown);
    Some(Pool {
        stack: "rails",
        pool_max: if unknown.is_some() {
            None
        } else {
            common::max_fact(pools)
        },
        processes,
        endpoints,
        unknown,
        settings,
    })
}

/// The configurations of an environment section: itself, or its named children (three-tier).
fn named_configs(section: &Node) -> Vec<(String, &Node)> {
    let Some(map) = section.as_map() else {
        return Vec::new();
    };
    let single = map
        .iter()
        .any(|(k, v)| k.as_str().is_some_and(|k| CONFIG_KEYS.contains(&k)) && v.as_map().is_none());
    if single {
        return vec![("primary".into(), section)];
    }
    map.iter()
        .filter(|(_, v)| v.as_map().is_some())
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v)))
        .collect()
}

/// `pool` from the URL in env var `name`, when the URL sets it.
fn url_pool(ctx: &Ctx, name: &str) -> Option<Result<Fact, (Span, String)>> {
    let (value, span) = common::env_str(ctx, name)?;
    let (key, v) = pool_param(value)?;
    Some(common::int_at(&v, span, &format!("`{key}` in {name}")))
}

fn pool_param(url: &str) -> Option<(String, String)> {
    let ep = endpoint::parse(url)?;
    ["max_connections", "pool"].iter().find_map(|k| {
        ep.params
            .iter()
            .find(|(pk, _)| pk == k)
            .map(|(k, v)| (k.clone(), v.clone()))
    })
}

/// The pool of one configuration: its URL's `pool`, else `max_connections`/`pool`, else 5.
fn config_pool(ctx: &Ctx, cfg: &Node, env_url: &str, label: &str) -> Result<Fact, (Span, String)> {
    if let Some(r) = url_pool(ctx, env_url) {
        return r;
    }
    if let Some(n) = cfg.get("url")
        && let Some((Some(url), span, _)) = erb_node(ctx, n).ok()
        && let Some((key, v)) = pool_param(&url)
    {
        return common::int_at(&v, span, &format!("`{key}` in {label}.url"));
    }
    for key in ["max_connections", "pool"] {
        let Some(n) = cfg.get(key).filter(|n| !n.is_null()) else {
            continue;
        };
        return match erb_node(ctx, n) {
            Ok((Some(text), span, _)) => common::int_at(&text, span, &format!("{label}.{key}")),
            Ok((None, span, _)) => Err((span, format!("{label}.{key} evaluates to nil"))),
            Err(e) => Err(e),
        };
    }
    Ok(Fact::default(DEFAULT_POOL, "ActiveRecord pool default"))
}

fn config_settings(ctx: &Ctx, cfg: &Node, label: &str) -> Vec<Setting> {
    let mut out = Vec::new();
    for (key, kind, scale) in [
        ("min_connections", SettingKind::MinIdle, 1),
        ("checkout_timeout", SettingKind::AcquireTimeoutMs, 1000),
    ] {
        if let Some(n) = cfg.get(key)
            && let Ok((Some(text), span, _)) = erb_node(ctx, n)
            && let Some(v) = text.trim().parse::<f64>().ok()
        {
            out.push(common::setting(
                kind,
                (v * scale as f64) as i64,
                span,
                &format!("{label}.{key}"),
            ));
        }
    }
    out
}

/// The endpoint a configuration names with `url:` or `host:` (unless it is an env var that
/// the linker reads anyway).
fn config_endpoint(ctx: &Ctx, cfg: &Node, label: &str) -> Option<ConfigEndpoint> {
    let text = |key: &str| -> Option<(String, Span, Option<String>)> {
        match erb_node(ctx, cfg.get(key)?).ok()? {
            (Some(t), s, var) if !t.trim().is_empty() => Some((t, s, var)),
            _ => None,
        }
    };
    if let Some((url, span, var)) = text("url") {
        if var.is_some() && endpoint::parse(&url).is_some() {
            return None;
        }
        return Some(ConfigEndpoint {
            value: url,
            span,
            key: format!("{label}.url"),
            datasource: None,
        });
    }
    let (host, span, var) = text("host")?;
    if var.as_deref().is_some_and(endpoint::is_host_var) {
        return None;
    }
    let adapter = text("adapter").map(|a| a.0).unwrap_or_default();
    let scheme = match adapter.as_str() {
        "mysql2" | "trilogy" | "mysql" => "mysql",
        "sqlite3" => return None,
        _ => "postgres",
    };
    let port = text("port")
        .map(|p| format!(":{}", p.0))
        .unwrap_or_default();
    let db = text("database").map(|d| d.0).unwrap_or_default();
    Some(ConfigEndpoint {
        value: format!("{scheme}://{}{port}/{db}", host.trim()),
        span,
        key: format!("{label}.host"),
        datasource: None,
    })
}

/// A database.yml value with its ERB evaluated: the text (`None` for nil), where the winning
/// value is written, and the env var it came from when it came from one.
type Evaluated = (Option<String>, Span, Option<String>);

fn erb_node(ctx: &Ctx, n: &Node) -> Result<Evaluated, common::Unknown> {
    let raw = n.as_str().unwrap_or("");
    erb(ctx, raw, n.span)
}

fn erb(ctx: &Ctx, raw: &str, span: Span) -> Result<Evaluated, common::Unknown> {
    if !raw.contains("<%") {
        return Ok((Some(raw.to_string()), span, None));
    }
    let t = raw.trim();
    // One tag that is the whole value: its value keeps the span of where it is written.
    if let Some(inner) = single_tag(t) {
        let v = eval(ctx, inner).map_err(|e| (span, e))?;
        return Ok(match v {
            None => (None, span, None),
            Some(Val { text, from }) => match from {
                Some((s, name)) => (Some(text), s, Some(name)),
                None => (Some(text), span, None),
            },
        });
    }
    // Tags inside other text: substitute each.
    let mut out = String::new();
    let mut rest = raw;
    while let Some(i) = rest.find("<%") {
        out.push_str(&rest[..i]);
        let Some(end) = rest[i..].find("%>") else {
            return Err((span, format!("unterminated ERB tag in `{raw}`")));
        };
        let tag = &rest[i..i + end + 2];
        let inner = single_tag(tag).ok_or_else(|| (span, format!("cannot evaluate `{tag}`")))?;
        if let Some(v) = eval(ctx, inner).map_err(|e| (span, e))? {
            out.push_str(&v.text);
        }
        rest = &rest[i + end + 2..];
    }
    out.push_str(rest);
    Ok((Some(out), span, None))
}

/// The expression of `<%= … %>` (or `<%= … -%>`).
fn single_tag(t: &str) -> Option<&str> {
    let inner = t.strip_prefix("<%=")?.strip_suffix("%>")?;
    if inner.contains("%>") {
        return None;
    }
    Some(inner.trim().trim_end_matches('-').trim())
}

/// An evaluated ERB expression: its text and, when it came from an env var, where that value
/// is written and the var's name.
struct Val {
    text: String,
    from: Option<(Span, String)>,
}

/// Evaluates the Ruby subset `database.yml` files use for settings. `Ok(None)` is nil.
fn eval(ctx: &Ctx, expr: &str) -> Result<Option<Val>, String> {
    let e = strip_conversions(expr.trim());
    if let Some((a, b)) = split_top(e, "||") {
        return match eval(ctx, a)? {
            Some(v) => Ok(Some(v)),
            None => eval(ctx, b),
        };
    }
    if let Some(rest) = e.strip_prefix("ENV.fetch(") {
        let close = matching_paren(rest).ok_or_else(|| format!("cannot evaluate `{e}`"))?;
        let args = &rest[..close];
        let after = rest[close + 1..].trim();
        let (name_part, default_arg) = match split_top(args, ",") {
            Some((n, d)) => (n, Some(d)),
            None => (args, None),
        };
        let name = string_lit(name_part).ok_or_else(|| format!("cannot evaluate `{e}`"))?;
        let block = after
            .strip_prefix('{')
            .and_then(|b| b.strip_suffix('}'))
            .or_else(|| after.strip_prefix("do").and_then(|b| b.strip_suffix("end")));
        if !after.is_empty() && block.is_none() {
            return Err(format!("cannot evaluate `{e}`"));
        }
        return match env(ctx, name)? {
            Some(v) => Ok(Some(v)),
            None => match default_arg.or(block) {
                Some(d) => eval(ctx, d),
                None => Err(format!(
                    "`ENV.fetch(\"{name}\")` has no default and `{name}` is not set"
                )),
            },
        };
    }
    if let Some(rest) = e.strip_prefix("ENV[")
        && let Some(name) = rest.strip_suffix(']').and_then(string_lit)
    {
        return env(ctx, name);
    }
    if e == "nil" {
        return Ok(None);
    }
    if let Some(s) = string_lit(e) {
        return Ok(Some(Val {
            text: s.to_string(),
            from: None,
        }));
    }
    if common::dec(e).is_some() {
        return Ok(Some(Val {
            text: e.to_string(),
            from: None,
        }));
    }
    Err(format!("cannot evaluate ERB `{e}`"))
}

fn env(ctx: &Ctx, name: &str) -> Result<Option<Val>, String> {
    match ctx.env.get(name) {
        None => Ok(None),
        Some(v) => match &v.value {
            Some(t) => Ok(Some(Val {
                text: t.clone(),
                from: Some((v.span, name.to_string())),
            })),
            None => Err(format!("`{name}` is not known from the repository")),
        },
    }
}

/// Drops `.to_i`/`.to_s`/`.presence`, `Integer(…)` and outer parentheses.
fn strip_conversions(mut e: &str) -> &str {
    loop {
        let before = e;
        for suffix in [".to_i", ".to_s", ".presence"] {
            e = e.strip_suffix(suffix).unwrap_or(e).trim();
        }
        if let Some(inner) = e.strip_prefix("Integer(").and_then(|x| x.strip_suffix(')')) {
            e = inner.trim();
        }
        if e.starts_with('(') && matching_paren(&e[1..]) == Some(e.len() - 2) {
            e = e[1..e.len() - 1].trim();
        }
        if e == before {
            return e;
        }
    }
}

/// Index (in `s`) of the `)` closing an already-opened `(`.
fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 1;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '{' | '[') => depth += 1,
            (None, ')' | '}' | ']') => {
                depth -= 1;
                if depth == 0 {
                    return (c == ')').then_some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits at the first top-level (outside quotes and brackets) occurrence of `sep`.
fn split_top<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '{' | '[') => depth += 1,
            (None, ')' | '}' | ']') => depth -= 1,
            (None, _) if depth == 0 && s[i..].starts_with(sep) => {
                return Some((s[..i].trim(), s[i + sep.len()..].trim()));
            }
            _ => {}
        }
    }
    None
}

fn string_lit(s: &str) -> Option<&str> {
    let s = s.trim();
    ['"', '\''].iter().find_map(|q| {
        s.strip_prefix(*q)
            .and_then(|x| x.strip_suffix(*q))
            .filter(|x| !x.contains(*q))
    })
}

/// Processes per container and the concurrency that shares each process's pool.
fn processes(ctx: &Ctx, words: &[Word]) -> (Fact, Vec<Setting>, Option<(Span, String)>) {
    let mut settings = Vec::new();
    let concurrency = |v: &str, span: Span, what: &str| -> Option<Setting> {
        Some(common::setting(
            SettingKind::Concurrency,
            common::dec(v)?,
            span,
            what,
        ))
    };
    let max_threads = common::env_str(ctx, "RAILS_MAX_THREADS");
    if let Some(i) = common::program(words, &["sidekiq"]) {
        let c = common::flag(words, i, &["-c", "--concurrency"])
            .map(|(v, s)| (v, s, "sidekiq --concurrency"))
            .or_else(|| max_threads.map(|(v, s)| (v.to_string(), s, "RAILS_MAX_THREADS")));
        if let Some((v, s, what)) = c {
            settings.extend(concurrency(&v, s, what));
        }
        return (
            Fact::default(1, "Sidekiq runs one process per container"),
            settings,
            None,
        );
    }
    let puma = common::program(words, &["puma"]);
    let server = puma.is_some()
        || common::program(words, &["rails"]).is_some_and(|i| {
            words
                .get(i + 1)
                .is_some_and(|w| matches!(w.text, "server" | "s"))
        })
        || words.is_empty();
    if !server {
        return (
            Fact::default(1, "one Ruby process per container"),
            settings,
            None,
        );
    }
    // Threads share the process's pool.
    let threads = puma
        .and_then(|i| common::flag(words, i, &["-t", "--threads"]))
        .and_then(|(v, s)| {
            let max = v.rsplit(':').next()?.to_string();
            Some((max, s, "puma --threads (max)"))
        })
        .or_else(|| max_threads.map(|(v, s)| (v.to_string(), s, "RAILS_MAX_THREADS")));
    if let Some((v, s, what)) = threads {
        settings.extend(concurrency(&v, s, what));
    }
    let workers = puma
        .and_then(|i| common::flag(words, i, &["-w", "--workers"]))
        .map(|(v, s)| (v, s, "puma --workers".to_string()))
        .or_else(|| {
            common::env_str(ctx, "WEB_CONCURRENCY")
                .map(|(v, s)| (v.to_string(), s, "WEB_CONCURRENCY".to_string()))
        });
    let unknown_env = ctx
        .env
        .get("WEB_CONCURRENCY")
        .filter(|v| v.value.is_none())
        .map(|v| {
            (
                v.span,
                "`WEB_CONCURRENCY` is not known from the repository".to_string(),
            )
        });
    let Some((v, span, what)) = workers else {
        return (
            Fact::default(1, "Puma single mode (no workers): one process"),
            settings,
            unknown_env,
        );
    };
    if v.trim() == "auto" {
        // Puma's `auto` is the processor count.
        let what = format!("{what}=auto (Puma workers = CPU count)");
        return match &ctx.node_cpus {
            Some(c) => {
                settings.push(common::cpu_dependent(c.clone(), &what, Some(span)));
                (c.clone(), settings, None)
            }
            None => {
                settings.push(common::cpu_dependent(
                    Fact::default(1, "Puma workers auto: CPU count"),
                    &what,
                    None,
                ));
                (
                    Fact::default(1, "Puma workers auto: CPU count"),
                    settings,
                    Some((
                        span,
                        format!(
                            "{what}: the process count depends on the node's CPUs; declare `nodes: {{cpus: N}}` in poolguard.yaml or set a number"
                        ),
                    )),
                )
            }
        };
    }
    match common::dec(&v) {
        Some(0) => (
            Fact::default(1, "Puma workers 0 is single mode: one process"),
            settings,
            None,
        ),
        Some(n) if n > 0 => (Fact::at(n, span), settings, None),
        _ => (
            Fact::default(1, "one process"),
            settings,
            Some((span, format!("{what} is `{v}`, not a number"))),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::test::Fx;
    use super::*;

    const DB_YML: &str = "default: &default\n  adapter: postgresql\n  pool: <%= ENV.fetch(\"RAILS_MAX_THREADS\") { 5 } %>\n  checkout_timeout: 5\nproduction:\n  <<: *default\n  database: shop\n  host: shop-db\n";

    fn pool(fx: &Fx) -> Pool {
        detect(&fx.ctx()).expect("recognised as Rails")
    }

    #[test]
    fn erb_forms_resolve_against_the_env() {
        let fx = Fx::new().env("X", "12");
        let ctx = fx.ctx();
        let ev = |e: &str| eval(&ctx, e).unwrap().map(|v| v.text);
        assert_eq!(ev("ENV.fetch(\"X\") { 5 }"), Some("12".into()));
        assert_eq!(ev("ENV.fetch(\"Y\") { 5 }"), Some("5".into()));
        assert_eq!(ev("ENV.fetch('Y', 7)"), Some("7".into()));
        assert_eq!(ev("ENV.fetch(\"Y\", \"8\").to_i"), Some("8".into()));
        assert_eq!(ev("ENV[\"Y\"] || 9"), Some("9".into()));
        assert_eq!(ev("(ENV['X'] || 9).to_i"), Some("12".into()));
        assert_eq!(
            ev("Integer(ENV.fetch(\"Y\") { ENV.fetch(\"X\") { 1 } })"),
            Some("12".into())
        );
        assert_eq!(ev("ENV['Y']"), None);
        assert!(eval(&ctx, "ENV.fetch(\"Y\")").is_err());
        assert!(eval(&ctx, "Etc.nprocessors").is_err());
    }

    #[test]
    fn database_yml_pool_from_env_through_erb_and_merge_key() {
        let fx = Fx::new()
            .env("RAILS_MAX_THREADS", "8")
            .file("/rails/config/database.yml", DB_YML);
        let p = pool(&fx);
        let f = p.pool_max.unwrap();
        assert_eq!((f.value, fx.origin(&f).as_str()), (8, "8"));
        assert_eq!(p.endpoints[0].value, "postgres://shop-db/shop");
        assert!(p.settings.contains(&common::setting(
            SettingKind::AcquireTimeoutMs,
            5000,
            p.settings[0].value.span().unwrap(),
            "`database.yml` production.primary.checkout_timeout"
        )));
        // Without the env var the ERB default is the literal 5 in the file.
        let fx = Fx::new().file("database.yml", DB_YML);
        let f = pool(&fx).pool_max.unwrap();
        assert_eq!(
            (f.value, fx.origin(&f).as_str()),
            (5, "<%= ENV.fetch(\"RAILS_MAX_THREADS\") { 5 } %>")
        );
    }

    #[test]
    fn database_url_pool_wins_and_environment_is_chosen() {
        let fx = Fx::new()
            .env("DATABASE_URL", "postgres://app@shop-db/shop?pool=15")
            .file("database.yml", DB_YML);
        assert_eq!(pool(&fx).pool_max.unwrap().value, 15);
        let yml = "staging:\n  adapter: postgresql\n  pool: 3\nproduction:\n  adapter: postgresql\n  pool: 30\n";
        let fx = Fx::new()
            .env("RAILS_ENV", "staging")
            .file("database.yml", yml);
        assert_eq!(pool(&fx).pool_max.unwrap().value, 3);
        let fx = Fx::new().file("database.yml", yml);
        assert_eq!(pool(&fx).pool_max.unwrap().value, 30);
        // Rails 8.1 `max_connections`.
        let fx = Fx::new().file(
            "database.yml",
            "production:\n  adapter: postgresql\n  max_connections: 11\n",
        );
        assert_eq!(pool(&fx).pool_max.unwrap().value, 11);
    }

    #[test]
    fn multi_database_counts_the_largest_pool() {
        let yml = "production:\n  primary:\n    adapter: postgresql\n    host: main-db\n    pool: 10\n  cache:\n    adapter: postgresql\n    host: cache-db\n    pool: 4\n";
        let fx = Fx::new().file("database.yml", yml);
        let p = pool(&fx);
        assert_eq!(p.pool_max.unwrap().value, 10);
        assert_eq!(p.endpoints.len(), 2);
    }

    #[test]
    fn without_database_yml_rails_max_threads_then_five() {
        let fx = Fx::new()
            .env("RAILS_MAX_THREADS", "6")
            .env("DATABASE_URL", "postgres://db/x");
        assert_eq!(pool(&fx).pool_max.unwrap().value, 6);
        let fx = Fx::new().env("RAILS_ENV", "production");
        let f = pool(&fx).pool_max.unwrap();
        assert_eq!(f.value, 5);
        assert!(f.span().is_none());
        let fx = Fx::new()
            .env("RAILS_ENV", "production")
            .env_unknown("RAILS_MAX_THREADS");
        assert!(pool(&fx).pool_max.is_none());
    }

    #[test]
    fn puma_workers_and_threads() {
        let fx = Fx::new()
            .env("WEB_CONCURRENCY", "3")
            .env("RAILS_MAX_THREADS", "5")
            .args(&["bundle", "exec", "puma", "-t", "2:8"]);
        let p = pool(&fx);
        assert_eq!(p.processes.value, 3);
        let c = p
            .settings
            .iter()
            .find(|s| s.kind == SettingKind::Concurrency)
            .unwrap();
        assert_eq!(c.value.value, 8);
        let fx = Fx::new()
            .env("WEB_CONCURRENCY", "3")
            .args(&["bundle exec puma -w 4"]);
        assert_eq!(pool(&fx).processes.value, 4);
        let fx = Fx::new()
            .env("WEB_CONCURRENCY", "0")
            .env("RAILS_ENV", "production");
        assert_eq!(pool(&fx).processes.value, 1);
        let fx = Fx::new()
            .env("WEB_CONCURRENCY", "auto")
            .env("RAILS_ENV", "production");
        let p = pool(&fx);
        assert!(p.pool_max.is_none(), "processes unknown");
        assert!(
            p.settings
                .iter()
                .any(|s| s.kind == SettingKind::CpuDependentDefault)
        );
        let fx = Fx::new()
            .env("WEB_CONCURRENCY", "auto")
            .env("RAILS_ENV", "production")
            .cpus(16);
        assert_eq!(pool(&fx).processes.value, 16);
    }

    #[test]
    fn sidekiq_is_one_process_with_its_concurrency() {
        let fx = Fx::new()
            .env("WEB_CONCURRENCY", "3")
            .env("RAILS_MAX_THREADS", "5")
            .args(&["bundle", "exec", "sidekiq", "-c", "10"]);
        let p = pool(&fx);
        assert_eq!(p.processes.value, 1);
        assert_eq!(p.pool_max.unwrap().value, 5);
        let c = p
            .settings
            .iter()
            .find(|s| s.kind == SettingKind::Concurrency)
            .unwrap();
        assert_eq!((c.value.value, fx.origin(&c.value).as_str()), (10, "10"));
    }

    #[test]
    fn not_rails_without_evidence() {
        let fx = Fx::new()
            .env("DATABASE_URL", "postgres://db/x")
            .args(&["/app/server"]);
        assert!(detect(&fx.ctx()).is_none());
    }
}
