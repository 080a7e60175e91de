//! Quarkus with Agroal: `quarkus.datasource.jdbc.max-size`, default 20 (domain.md §1.1 [V];
//! https://quarkus.io/guides/all-config, Agroal section). Named datasources
//! (`quarkus.datasource."name".jdbc.max-size`, env `QUARKUS_DATASOURCE__NAME__JDBC_MAX_SIZE`)
//! each have their own pool; the reactive pool (`quarkus.datasource.reactive.max-size`,
//! default 20) is counted when a reactive URL or size is configured.
//!
//! Sources, highest first (https://quarkus.io/guides/config-reference#config-sources): system
//! properties (`-D…`, also in `JAVA_OPTS`/`JAVA_OPTS_APPEND`/`JAVA_TOOL_OPTIONS`), environment
//! variables (name: every non-alphanumeric character → `_`, upper case), a mounted `.env`,
//! mounted `config/application.properties|yaml` (ordinal 260), then the packaged/attached
//! `application.properties|yaml` (250). Within a source the active profile's `%prod.key`
//! (env `_PROD_KEY`) wins over `key`; a higher source wins over a profile key in a lower one
//! (SmallRye semantics, https://github.com/eclipse/microprofile-config/issues/781). The profile
//! is `QUARKUS_PROFILE` / `quarkus.profile`, else `prod` for a packaged application.

use super::common::{self, Entry};
use super::{ConfigEndpoint, Ctx, Datasource, Pool, SettingKind, Stack};
use crate::model::mounts::ConfigFile;
use crate::parse::Format;
use crate::report::Fact;
use crate::source::Span;

/// The stack entry.
pub static STACK: Stack = Stack {
    name: "quarkus-agroal",
    detect,
};

const DEFAULT_MAX: i64 = 20;
const PREFIX: &str = "quarkus.datasource.";
/// First segments under `quarkus.datasource.` that belong to the default datasource.
const DEFAULT_ROOTS: &[&str] = &[
    "jdbc",
    "reactive",
    "db-kind",
    "db-version",
    "username",
    "password",
    "credentials-provider",
    "credentials-provider-name",
    "devservices",
    "health",
    "health-exclude",
    "metrics",
    "active",
];

fn detect(ctx: &Ctx) -> Option<Pool> {
    let base = base_layers(ctx);
    if !is_quarkus(&base, ctx.files) {
        return None;
    }
    let profiles = profiles(&base, ctx.files);
    let q = Quarkus {
        layers: layers(base, ctx.files, &profiles),
        profiles,
        ctx,
    };
    let mut pools: Vec<Fact> = Vec::new();
    let mut unknown = None;
    let mut settings = Vec::new();
    let mut endpoints = Vec::new();
    for ds in q.datasources() {
        let ds = ds.as_deref();
        let jdbc_url = q.get(ds, "jdbc.url");
        let reactive_url = q.get(ds, "reactive.url");
        let jdbc_max = q.get(ds, "jdbc.max-size");
        let reactive_max = q.get(ds, "reactive.max-size");
        let reactive = reactive_url.is_some() || reactive_max.is_some();
        let jdbc = jdbc_url.is_some() || jdbc_max.is_some() || !reactive;
        let mut parts = Vec::new();
        for (on, found, key) in [
            (jdbc, jdbc_max, "jdbc.max-size"),
            (reactive, reactive_max, "reactive.max-size"),
        ] {
            if !on {
                continue;
            }
            match found.map(|e| q.int(e)) {
                None => parts.push(Fact::default(
                    DEFAULT_MAX,
                    "Agroal/Quarkus max-size default",
                )),
                Some(Ok(f)) => parts.push(f),
                Some(Err(u)) => {
                    unknown.get_or_insert((u.0, format!("{} ({})", u.1, q.name(ds, key))));
                }
            }
        }
        let known = parts.len() == usize::from(jdbc) + usize::from(reactive);
        let pool = sum(parts).filter(|_| known);
        pools.extend(pool.clone());
        let mut own = Vec::new();
        for (key, kind) in [
            ("jdbc.min-size", SettingKind::MinIdle),
            ("jdbc.acquisition-timeout", SettingKind::AcquireTimeoutMs),
        ] {
            let Some(e) = q.get(ds, key) else { continue };
            let Ok((text, span)) = common::entry_text(e, &|n| q.expand_lookup(n)) else {
                continue;
            };
            let value = match kind {
                // A bare number is seconds; `500ms`, `5S`, `PT5S` are durations.
                SettingKind::AcquireTimeoutMs => common::duration_ms(&text, 1000),
                _ => common::dec(&text),
            };
            if let Some(v) = value {
                own.push(common::setting(kind, v, span, &q.name(ds, key)));
            }
        }
        settings.extend(own.iter().cloned());
        for (found, key) in [(jdbc_url, "jdbc.url"), (reactive_url, "reactive.url")] {
            if let Some(e) = found
                && let Ok((value, span)) = common::entry_text(e, &|n| q.expand_lookup(n))
            {
                endpoints.push(ConfigEndpoint {
                    value: value.trim_start_matches("vertx-reactive:").to_string(),
                    span,
                    key: q.name(ds, key),
                    // JDBC and reactive URLs of one datasource share its (summed) pool.
                    datasource: Some(Datasource {
                        name: ds.unwrap_or("<default>").to_string(),
                        pool: pool.clone(),
                        settings: own.clone(),
                    }),
                });
            }
        }
    }
    let pool_max = if unknown.is_some() {
        None
    } else {
        common::max_fact(pools)
    };
    Some(Pool {
        stack: "quarkus-agroal",
        pool_max,
        processes: Fact::default(1, "one JVM per container"),
        endpoints,
        unknown,
        settings,
    })
}

/// JDBC and reactive pools of one datasource together.
fn sum(parts: Vec<Fact>) -> Option<Fact> {
    let mut it = parts.into_iter();
    let first = it.next()?;
    Some(it.fold(first, |acc, f| {
        let value = acc.value + f.value;
        match acc.span().or(f.span()) {
            Some(s) => Fact::at(value, s),
            None => Fact::default(
                value,
                "Agroal/Quarkus max-size default, JDBC + reactive pools",
            ),
        }
    }))
}

/// Environment variable name for a property: non-alphanumerics → `_`, upper case.
fn envify(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn unquote(name: &str) -> String {
    name.replace('"', "")
}

/// `%prof.key` → `key`.
fn strip_profile(key: &str) -> &str {
    match key.strip_prefix('%') {
        Some(rest) => rest.split_once('.').map_or(key, |(_, k)| k),
        None => key,
    }
}

/// `_PROF_QUARKUS_X` → `QUARKUS_X`.
fn strip_env_profile(key: &str) -> &str {
    match key.strip_prefix('_') {
        Some(rest) => rest.split_once('_').map_or(key, |(_, k)| k),
        None => key,
    }
}

fn is_app_file(f: &ConfigFile) -> bool {
    let n = f.name.to_ascii_lowercase();
    n.starts_with("application")
        && matches!(f.format, Format::Properties | Format::Yaml)
        && !n.ends_with(".json")
}

/// Profile of an `application-{profile}.properties` file.
fn file_profile(f: &ConfigFile) -> Option<&str> {
    let stem = f.name.rsplit_once('.').map_or(f.name.as_str(), |(s, _)| s);
    stem.strip_prefix("application-")
}

/// System properties, environment and mounted `.env` files.
fn base_layers(ctx: &Ctx) -> Vec<Vec<Entry>> {
    let dotenv: Vec<Entry> = ctx
        .files
        .iter()
        .filter(|f| f.format == Format::Dotenv && f.mounted)
        .flat_map(common::file_entries)
        .collect();
    vec![
        common::system_properties(ctx),
        common::env_entries(ctx),
        dotenv,
    ]
}

/// Every source, highest first: the base layers, then mounted application files, then
/// attached ones; profile files above plain ones.
fn layers(mut base: Vec<Vec<Entry>>, files: &[ConfigFile], profiles: &[String]) -> Vec<Vec<Entry>> {
    let mut ranked: Vec<(usize, &ConfigFile)> = files
        .iter()
        .filter(|f| is_app_file(f))
        .filter_map(|f| {
            let p = match file_profile(f) {
                None => 0,
                Some(p) => 1 + profiles.iter().position(|x| x == p)?,
            };
            Some((usize::from(f.mounted) * 1000 + p, f))
        })
        .collect();
    ranked.sort_by_key(|(r, _)| std::cmp::Reverse(*r));
    base.extend(ranked.into_iter().map(|(_, f)| common::file_entries(f)));
    base
}

fn is_quarkus(base: &[Vec<Entry>], files: &[ConfigFile]) -> bool {
    let key_is = |key: &str, env: bool| {
        if env {
            strip_env_profile(key).starts_with("QUARKUS_")
        } else {
            strip_profile(key).starts_with("quarkus.")
        }
    };
    base.iter().flatten().any(|e| key_is(&e.key, e.env))
        || files
            .iter()
            .filter(|f| is_app_file(f))
            .any(|f| common::any_entry_key(f, &key_is))
}

/// Active profiles, lowest priority first.
fn profiles(base: &[Vec<Entry>], files: &[ConfigFile]) -> Vec<String> {
    let cand = ["quarkus.profile".to_string()];
    let mut layers = base.to_vec();
    layers.extend(
        files
            .iter()
            .filter(|f| is_app_file(f) && file_profile(f).is_none())
            .map(common::file_entries),
    );
    let found = common::lookup(&layers, &cand, &|e, c| {
        if e.env {
            e.key == envify(c)
        } else {
            e.key == c
        }
    });
    let raw = found
        .and_then(|e| e.value.clone())
        .unwrap_or_else(|| "prod".into());
    raw.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

struct Quarkus<'a> {
    layers: Vec<Vec<Entry>>,
    profiles: Vec<String>,
    ctx: &'a Ctx<'a>,
}

impl Quarkus<'_> {
    /// Property name of `sub` for a datasource (quoted form for named ones).
    fn name(&self, ds: Option<&str>, sub: &str) -> String {
        match ds {
            None => format!("{PREFIX}{sub}"),
            Some(n) => format!("{PREFIX}\"{n}\".{sub}"),
        }
    }

    /// The winning entry for `sub` of a datasource.
    fn get(&self, ds: Option<&str>, sub: &str) -> Option<&Entry> {
        let mut plain = vec![self.name(ds, sub)];
        if let Some(n) = ds {
            plain.push(format!("{PREFIX}{n}.{sub}"));
        }
        let mut cands = Vec::new();
        for p in self.profiles.iter().rev() {
            cands.extend(plain.iter().map(|k| format!("%{p}.{k}")));
        }
        cands.extend(plain);
        common::lookup(&self.layers, &cands, &|e, c| {
            if e.env {
                e.key == envify(c)
            } else {
                unquote(&e.key) == unquote(c)
            }
        })
    }

    /// Placeholder lookup: an env var by exact name, else a property (unexpanded).
    fn expand_lookup(&self, name: &str) -> Option<(String, Span)> {
        if let Some((v, s)) = common::env_str(self.ctx, name) {
            return Some((v.to_string(), s));
        }
        let cands = [name.to_string()];
        let e = common::lookup(&self.layers, &cands, &|e, c| {
            if e.env {
                e.key == envify(c)
            } else {
                e.key == c
            }
        })?;
        Some((e.value.clone()?, e.span))
    }

    fn int(&self, e: &Entry) -> Result<Fact, (Span, String)> {
        common::entry_int(e, &|n| self.expand_lookup(n))
    }

    /// Datasources configured anywhere: `None` is the default one.
    fn datasources(&self) -> Vec<Option<String>> {
        let mut out: Vec<Option<String>> = Vec::new();
        let mut add = |d: Option<String>| {
            if !out.contains(&d) {
                out.push(d);
            }
        };
        for e in self.layers.iter().flatten() {
            if e.env {
                let Some(rest) = strip_env_profile(&e.key).strip_prefix("QUARKUS_DATASOURCE_")
                else {
                    continue;
                };
                if let Some(quoted) = rest.strip_prefix('_') {
                    if let Some((n, _)) = quoted.split_once("__") {
                        add(Some(n.to_ascii_lowercase()));
                    }
                } else if DEFAULT_ROOTS
                    .iter()
                    .any(|r| rest.starts_with(&format!("{}_", envify(r))) || rest == envify(r))
                {
                    add(None);
                }
            } else {
                let Some(rest) = strip_profile(&e.key).strip_prefix(PREFIX) else {
                    continue;
                };
                if let Some(q) = rest.strip_prefix('"') {
                    if let Some((n, _)) = q.split_once('"') {
                        add(Some(n.to_string()));
                    }
                    continue;
                }
                let (seg, more) = rest.split_once('.').unwrap_or((rest, ""));
                if DEFAULT_ROOTS.contains(&seg) {
                    add(None);
                } else if !more.is_empty() {
                    add(Some(seg.to_string()));
                }
            }
        }
        if out.is_empty() {
            out.push(None);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::test::Fx;
    use super::*;

    fn pool(fx: &Fx) -> Pool {
        detect(&fx.ctx()).expect("recognised as Quarkus")
    }

    #[test]
    fn default_is_twenty_when_only_the_url_is_set() {
        let fx = Fx::new().env(
            "QUARKUS_DATASOURCE_JDBC_URL",
            "jdbc:postgresql://catalog-db:5432/catalog",
        );
        let p = pool(&fx);
        assert_eq!(p.pool_max.unwrap().value, 20);
        // The env value is reported too, at its own span (linking merges it with the env
        // endpoint), so that it carries its datasource's pool.
        assert_eq!(p.endpoints.len(), 1);
        assert_eq!(
            fx.text(p.endpoints[0].span),
            "jdbc:postgresql://catalog-db:5432/catalog"
        );
        let ds = p.endpoints[0].datasource.as_ref().unwrap();
        assert_eq!(
            (ds.name.as_str(), ds.pool.as_ref().map(|f| f.value)),
            ("<default>", Some(20))
        );
    }

    #[test]
    fn env_wins_over_files_and_profile_keys_win_within_a_file() {
        let props = "quarkus.datasource.jdbc.url=jdbc:postgresql://db/app\n\
                     quarkus.datasource.jdbc.max-size=10\n\
                     %prod.quarkus.datasource.jdbc.max-size=24\n\
                     %dev.quarkus.datasource.jdbc.max-size=2\n";
        let fx = Fx::new().file("/deployments/config/application.properties", props);
        let p = pool(&fx);
        let f = p.pool_max.unwrap();
        assert_eq!((f.value, fx.origin(&f).as_str()), (24, "24"));
        assert_eq!(p.endpoints[0].key, "quarkus.datasource.jdbc.url");

        let fx = Fx::new()
            .env("QUARKUS_DATASOURCE_JDBC_MAX_SIZE", "15")
            .file("application.properties", props);
        assert_eq!(pool(&fx).pool_max.unwrap().value, 15);

        let fx = Fx::new()
            .env("QUARKUS_PROFILE", "dev")
            .file("application.properties", props);
        assert_eq!(pool(&fx).pool_max.unwrap().value, 2);

        let fx = Fx::new()
            .args(&[
                "java",
                "-Dquarkus.datasource.jdbc.max-size=7",
                "-jar",
                "app.jar",
            ])
            .env("QUARKUS_DATASOURCE_JDBC_MAX_SIZE", "15");
        assert_eq!(pool(&fx).pool_max.unwrap().value, 7);
    }

    #[test]
    fn mounted_config_outranks_the_attached_classpath_file_and_yaml_works() {
        let fx = Fx::new()
            .file_at(
                "src/main/resources/application.properties",
                "quarkus.datasource.jdbc.max-size=30\n",
                false,
            )
            .file(
                "application.yaml",
                "quarkus:\n  datasource:\n    jdbc:\n      max-size: 12\n      min-size: 12\n      acquisition-timeout: 0\n",
            );
        let p = pool(&fx);
        assert_eq!(p.pool_max.unwrap().value, 12);
        let kinds: Vec<(SettingKind, i64)> =
            p.settings.iter().map(|s| (s.kind, s.value.value)).collect();
        assert_eq!(
            kinds,
            vec![
                (SettingKind::MinIdle, 12),
                (SettingKind::AcquireTimeoutMs, 0)
            ]
        );
    }

    #[test]
    fn named_datasources_each_have_a_pool_and_the_largest_counts() {
        let props = "quarkus.datasource.db-kind=postgresql\n\
                     quarkus.datasource.\"users\".db-kind=postgresql\n\
                     quarkus.datasource.\"users\".jdbc.url=jdbc:postgresql://users-db/users\n";
        let fx = Fx::new()
            .file("application.properties", props)
            .env("QUARKUS_DATASOURCE__USERS__JDBC_MAX_SIZE", "35");
        let p = pool(&fx);
        let f = p.pool_max.unwrap();
        assert_eq!((f.value, fx.origin(&f).as_str()), (35, "35"));
        assert_eq!(p.endpoints[0].key, "quarkus.datasource.\"users\".jdbc.url");
        // Only the env var names the datasource: still found.
        let fx = Fx::new().env("QUARKUS_DATASOURCE__ORDERS__JDBC_MAX_SIZE", "8");
        assert_eq!(pool(&fx).pool_max.unwrap().value, 8);
    }

    #[test]
    fn placeholders_and_unknown_values() {
        let fx = Fx::new().env("POOL", "9").file(
            "application.properties",
            "quarkus.datasource.jdbc.max-size=${POOL:20}\n",
        );
        let p = pool(&fx);
        let f = p.pool_max.unwrap();
        assert_eq!((f.value, fx.origin(&f).as_str()), (9, "9"));

        let fx = Fx::new().env_unknown("QUARKUS_DATASOURCE_JDBC_MAX_SIZE");
        let p = pool(&fx);
        assert!(p.pool_max.is_none());
        assert!(p.unknown.unwrap().1.contains("not known"));

        let fx = Fx::new().env("QUARKUS_DATASOURCE_JDBC_MAX_SIZE", "lots");
        assert!(pool(&fx).pool_max.is_none());
    }

    #[test]
    fn reactive_pool_adds_to_jdbc_and_spring_is_not_claimed() {
        let fx = Fx::new()
            .env("QUARKUS_DATASOURCE_JDBC_URL", "jdbc:postgresql://db/x")
            .env("QUARKUS_DATASOURCE_REACTIVE_URL", "postgresql://db/x");
        assert_eq!(pool(&fx).pool_max.unwrap().value, 40);

        let fx = Fx::new()
            .env("SPRING_DATASOURCE_URL", "jdbc:postgresql://db/x")
            .file(
                "application.properties",
                "spring.datasource.hikari.maximum-pool-size=4\n",
            );
        assert!(detect(&fx.ctx()).is_none());
    }
}
