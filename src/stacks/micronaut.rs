//! Micronaut SQL with HikariCP: `datasources.<name>.maximum-pool-size`, default 10 (Hikari;
//! domain.md §1.1, https://micronaut-projects.github.io/micronaut-sql/latest/guide/).
//!
//! Property sources, highest first (https://docs.micronaut.io/latest/guide/#propertySource):
//! command-line `-key=value`, `MICRONAUT_APPLICATION_JSON`, Java system properties, environment
//! variables (`DATASOURCES_DEFAULT_MAXIMUM_POOL_SIZE`; names are compared relaxed), then
//! config files — mounted before attached, environment-specific `application-{env}.*` before
//! `application.*`. Active environments: `MICRONAUT_ENVIRONMENTS` / `micronaut.environments`,
//! after the `cloud` and `k8s` environments Micronaut deduces inside Kubernetes.
//! Each datasource has its own pool; the largest counts.

use super::common::{self, Entry};
use super::{ConfigEndpoint, Ctx, Datasource, Pool, SettingKind, Stack};
use crate::model::mounts::ConfigFile;
use crate::parse::{self, Format, Limits};
use crate::report::Fact;
use crate::source::Span;

/// The stack entry.
pub static STACK: Stack = Stack {
    name: "micronaut-hikari",
    detect,
};

const DEFAULT_MAX: i64 = 10;
/// Keys under `datasources.<name>.` that name a datasource in env (`DATASOURCES_<NAME>_URL`).
const ENV_SUFFIXES: &[&str] = &[
    "_URL",
    "_JDBC_URL",
    "_MAXIMUM_POOL_SIZE",
    "_MAXIMUMPOOLSIZE",
    "_MINIMUM_IDLE",
    "_CONNECTION_TIMEOUT",
    "_USERNAME",
    "_PASSWORD",
    "_DRIVER_CLASS_NAME",
    "_DIALECT",
    "_DB_TYPE",
    "_SCHEMA_GENERATE",
];

fn detect(ctx: &Ctx) -> Option<Pool> {
    let base = base_layers(ctx);
    if !is_micronaut(ctx, &base) {
        return None;
    }
    let envs = environments(&base);
    let mn = Micronaut {
        layers: layers(base, ctx.files, &envs),
        ctx,
    };
    let mut pools = Vec::new();
    let mut unknown = None;
    let mut settings = Vec::new();
    let mut endpoints = Vec::new();
    for ds in mn.datasources() {
        let pool = match mn.get(&ds, "maximum-pool-size").map(|e| mn.int(e)) {
            None => Some(Fact::default(
                DEFAULT_MAX,
                "HikariCP maximumPoolSize default",
            )),
            Some(Ok(f)) => Some(f),
            Some(Err((span, why))) => {
                unknown.get_or_insert((span, why));
                None
            }
        };
        pools.extend(pool.clone());
        let mut own = Vec::new();
        for (key, kind) in [
            ("minimum-idle", SettingKind::MinIdle),
            ("connection-timeout", SettingKind::AcquireTimeoutMs),
        ] {
            if let Some(e) = mn.get(&ds, key)
                && let Ok(f) = mn.int(e)
            {
                own.push(common::setting(
                    kind,
                    f.value,
                    f.span().unwrap_or(e.span),
                    &format!("datasources.{ds}.{key}"),
                ));
            }
        }
        settings.extend(own.iter().cloned());
        if let Some(e) = mn.get(&ds, "url").or_else(|| mn.get(&ds, "jdbc-url"))
            && let Ok((value, span)) = common::entry_text(e, &|n| mn.expand_lookup(n))
        {
            endpoints.push(ConfigEndpoint {
                value,
                span,
                key: format!("datasources.{ds}.url"),
                datasource: Some(Datasource {
                    name: ds.clone(),
                    pool,
                    settings: own,
                }),
            });
        }
    }
    Some(Pool {
        stack: "micronaut-hikari",
        pool_max: if unknown.is_some() {
            None
        } else {
            common::max_fact(pools)
        },
        processes: Fact::default(1, "one JVM per container"),
        endpoints,
        unknown,
        settings,
    })
}

fn is_app_file(f: &ConfigFile) -> bool {
    f.name.to_ascii_lowercase().starts_with("application")
        && matches!(
            f.format,
            Format::Yaml | Format::Properties | Format::Json | Format::Toml
        )
}

/// Command line, application JSON, system properties, environment.
fn base_layers(ctx: &Ctx) -> Vec<Vec<Entry>> {
    let mut cli = Vec::new();
    for a in ctx.args {
        for w in a.text.split_whitespace() {
            let w = w.trim_matches(['"', '\'']);
            if w.starts_with("-D") {
                continue;
            }
            if let Some(kv) = w.strip_prefix("--").or_else(|| w.strip_prefix('-'))
                && let Some((k, v)) = kv.split_once('=')
            {
                cli.push(Entry {
                    key: k.to_string(),
                    env: false,
                    value: Some(v.to_string()),
                    span: a.span,
                    source: format!("argument `-{k}`"),
                });
            }
        }
    }
    let mut json = Vec::new();
    if let Some((text, span)) = common::env_str(ctx, "MICRONAUT_APPLICATION_JSON") {
        let parsed = parse::parse(Format::Json, span.file, text, &Limits::default());
        for d in &parsed.docs {
            for (k, n) in d.flatten() {
                if let Some(v) = n.as_str() {
                    json.push(Entry {
                        key: k,
                        env: false,
                        value: Some(v.to_string()),
                        span,
                        source: "MICRONAUT_APPLICATION_JSON".into(),
                    });
                }
            }
        }
    }
    vec![
        cli,
        json,
        common::system_properties(ctx),
        common::env_entries(ctx),
    ]
}

fn is_micronaut(ctx: &Ctx, base: &[Vec<Entry>]) -> bool {
    let key_is = |key: &str, env: bool| {
        // `canon(key)` starts with `datasources` and goes on, compared without building it.
        let mut c = common::canon_chars(key);
        ("datasources".chars().all(|x| c.next() == Some(x)) && c.next().is_some())
            || (env && key.starts_with("MICRONAUT_"))
            || (!env && key.starts_with("micronaut."))
    };
    base.iter().flatten().any(|e| key_is(&e.key, e.env))
        || ctx
            .files
            .iter()
            .filter(|f| is_app_file(f))
            .any(|f| common::any_entry_key(f, &key_is))
}

/// Active environments, lowest priority first.
fn environments(base: &[Vec<Entry>]) -> Vec<String> {
    let mut out = vec!["cloud".to_string(), "k8s".to_string()];
    let cands = ["micronaut.environments".to_string()];
    if let Some(v) = common::lookup(base, &cands, &|e, c| {
        common::canon(&e.key) == common::canon(c)
    })
    .and_then(|e| e.value.clone())
    {
        out.extend(
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        );
    }
    out
}

fn layers(mut base: Vec<Vec<Entry>>, files: &[ConfigFile], envs: &[String]) -> Vec<Vec<Entry>> {
    let mut ranked: Vec<(usize, &ConfigFile)> = files
        .iter()
        .filter(|f| is_app_file(f))
        .filter_map(|f| {
            let stem = f.name.rsplit_once('.').map_or(f.name.as_str(), |(s, _)| s);
            let rank = match stem.strip_prefix("application-") {
                None => 0,
                Some(e) => 1 + envs.iter().position(|x| x == e)?,
            };
            Some((usize::from(f.mounted) * 1000 + rank, f))
        })
        .collect();
    ranked.sort_by_key(|(r, _)| std::cmp::Reverse(*r));
    base.extend(ranked.into_iter().map(|(_, f)| common::file_entries(f)));
    base
}

struct Micronaut<'a> {
    layers: Vec<Vec<Entry>>,
    ctx: &'a Ctx<'a>,
}

impl Micronaut<'_> {
    fn get(&self, ds: &str, sub: &str) -> Option<&Entry> {
        let cands = [format!("datasources.{ds}.{sub}")];
        common::lookup(&self.layers, &cands, &|e, c| {
            common::canon(&e.key) == common::canon(c)
        })
    }

    fn expand_lookup(&self, name: &str) -> Option<(String, Span)> {
        if let Some((v, s)) = common::env_str(self.ctx, name) {
            return Some((v.to_string(), s));
        }
        let cands = [name.to_string()];
        let e = common::lookup(&self.layers, &cands, &|e, c| {
            common::canon(&e.key) == common::canon(c)
        })?;
        Some((e.value.clone()?, e.span))
    }

    fn int(&self, e: &Entry) -> Result<Fact, (Span, String)> {
        common::entry_int(e, &|n| self.expand_lookup(n))
    }

    /// Datasource names (canonical, lower case), `default` when none is configured.
    fn datasources(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self.layers.iter().flatten() {
            let name = if e.env {
                e.key.strip_prefix("DATASOURCES_").and_then(|rest| {
                    ENV_SUFFIXES
                        .iter()
                        .find_map(|s| rest.strip_suffix(s))
                        .filter(|n| !n.is_empty())
                        .map(|n| n.to_ascii_lowercase())
                })
            } else {
                let mut parts = e.key.splitn(3, '.');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some("datasources"), Some(n), Some(_)) => Some(n.to_string()),
                    _ => None,
                }
            };
            if let Some(n) = name
                && !out.iter().any(|o| common::canon(o) == common::canon(&n))
            {
                out.push(n);
            }
        }
        if out.is_empty() {
            out.push("default".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::test::Fx;
    use super::*;

    fn pool(fx: &Fx) -> Pool {
        detect(&fx.ctx()).expect("recognised as Micronaut")
    }

    #[test]
    fn env_var_sets_the_pool_and_default_is_ten() {
        let fx = Fx::new()
            .env("DATASOURCES_DEFAULT_URL", "jdbc:postgresql://db/app")
            .env("DATASOURCES_DEFAULT_MAXIMUM_POOL_SIZE", "40");
        let f = pool(&fx).pool_max.unwrap();
        assert_eq!((f.value, fx.origin(&f).as_str()), (40, "40"));

        let fx = Fx::new().env("DATASOURCES_DEFAULT_URL", "jdbc:postgresql://db/app");
        assert_eq!(pool(&fx).pool_max.unwrap().value, 10);
        let fx = Fx::new().env("MICRONAUT_ENVIRONMENTS", "prod");
        assert_eq!(pool(&fx).pool_max.unwrap().value, 10);
    }

    #[test]
    fn files_by_environment_and_yaml_camel_case() {
        let fx = Fx::new()
            .env("MICRONAUT_ENVIRONMENTS", "prod")
            .file(
                "application.yml",
                "datasources:\n  default:\n    url: jdbc:postgresql://orders-db/orders\n    maximumPoolSize: 12\n    minimum-idle: 2\n",
            )
            .file(
                "application-prod.yml",
                "datasources:\n  default:\n    maximum-pool-size: 25\n",
            );
        let p = pool(&fx);
        let f = p.pool_max.unwrap();
        assert_eq!((f.value, fx.origin(&f).as_str()), (25, "25"));
        assert_eq!(p.endpoints[0].value, "jdbc:postgresql://orders-db/orders");
        assert_eq!(p.settings[0].kind, SettingKind::MinIdle);
        // The env var outranks the files.
        let fx = fx.env("DATASOURCES_DEFAULT_MAXIMUM_POOL_SIZE", "6");
        assert_eq!(pool(&fx).pool_max.unwrap().value, 6);
    }

    #[test]
    fn several_datasources_count_the_largest_and_spring_is_left_alone() {
        let fx = Fx::new()
            .env("DATASOURCES_DEFAULT_MAXIMUM_POOL_SIZE", "5")
            .env("DATASOURCES_REPORTING_URL", "jdbc:postgresql://rep/x");
        let f = pool(&fx).pool_max.unwrap();
        assert_eq!(f.value, 10, "reporting has the Hikari default");
        let fx = Fx::new().file(
            "application.yml",
            "spring:\n  datasource:\n    url: jdbc:postgresql://db/x\n",
        );
        assert!(detect(&fx.ctx()).is_none());
    }

    #[test]
    fn unknown_value_is_reported() {
        let fx = Fx::new().env_unknown("DATASOURCES_DEFAULT_MAXIMUM_POOL_SIZE");
        let p = pool(&fx);
        assert!(p.pool_max.is_none());
        assert!(p.unknown.is_some());
    }
}
