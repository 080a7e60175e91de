//! Npgsql and other ADO.NET providers: `Maximum Pool Size` / `Max Pool Size` in the connection
//! string, default 100 (domain.md §1.7; https://www.npgsql.org/doc/connection-string-parameters.html
//! — keywords are case-insensitive; SqlClient and MySqlConnector share the keyword and the
//! default). `Minimum Pool Size` is the minimum, `Timeout` (seconds) bounds the wait for a
//! pooled connection. `Pooling=false` opens a server connection per open connection, so the
//! count is the application's concurrency: unknown.
//!
//! Connection strings come from env (`ConnectionStrings__<Name>`, or any variable holding one)
//! and from mounted or attached `appsettings.json` / `appsettings.{Environment}.json`
//! (`ConnectionStrings:<Name>`); env overrides the files, the environment's file overrides the
//! plain one (`ASPNETCORE_ENVIRONMENT` / `DOTNET_ENVIRONMENT`, default `Production`). Each
//! distinct string is its own pool; the largest counts.

use super::common;
use super::{ConfigEndpoint, Ctx, Pool, SettingKind, Stack};
use crate::model::endpoint;
use crate::parse::Format;
use crate::report::Fact;
use crate::source::Span;

/// The stack entry.
pub static STACK: Stack = Stack {
    name: "npgsql",
    detect,
};

const DEFAULT_MAX: i64 = 100;

/// One connection string and where it is written.
struct ConnString {
    /// `ConnectionStrings:Orders`, or the env var name.
    name: String,
    value: String,
    span: Span,
    /// Whether it comes from a file (the linker reads env itself).
    from_file: bool,
}

/// Keyword → value, keywords lower-cased without blanks (`maximumpoolsize`).
fn params(value: &str) -> Vec<(String, String)> {
    value
        .split(';')
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            let k: String = k
                .chars()
                .filter(|c| !c.is_whitespace())
                .flat_map(char::to_lowercase)
                .collect();
            Some((k, v.trim().trim_matches(['"', '\'']).to_string()))
        })
        .collect()
}

fn is_adonet(value: &str) -> bool {
    value.contains(';') && !value.contains("://") && endpoint::parse(value).is_some()
}

fn detect(ctx: &Ctx) -> Option<Pool> {
    let strings = connection_strings(ctx);
    if strings.is_empty() {
        return None;
    }
    let mut pools = Vec::new();
    let mut unknown = None;
    let mut settings = Vec::new();
    let mut endpoints = Vec::new();
    let mut npgsql = false;
    for cs in &strings {
        let p = params(&cs.value);
        let get = |keys: &[&str]| {
            p.iter()
                .rev()
                .find(|(k, _)| keys.contains(&k.as_str()))
                .map(|(_, v)| v.as_str())
        };
        npgsql |= get(&["host"]).is_some();
        if get(&["pooling"]).is_some_and(|v| v.eq_ignore_ascii_case("false")) {
            unknown.get_or_insert((
                cs.span,
                format!("{} sets `Pooling=false`: every open connection is a server connection, bounded only by the application's concurrency", cs.name),
            ));
        } else {
            match get(&["maximumpoolsize", "maxpoolsize"]) {
                Some(v) => {
                    match common::int_at(v, cs.span, &format!("`Maximum Pool Size` in {}", cs.name))
                    {
                        Ok(f) => pools.push(f),
                        Err(e) => {
                            unknown.get_or_insert(e);
                        }
                    }
                }
                None => pools.push(Fact::default(
                    DEFAULT_MAX,
                    "ADO.NET Maximum Pool Size default (Npgsql, SqlClient, MySqlConnector)",
                )),
            }
        }
        if let Some(n) = get(&["minimumpoolsize", "minpoolsize"]).and_then(common::dec) {
            settings.push(common::setting(
                SettingKind::MinIdle,
                n,
                cs.span,
                &format!("Minimum Pool Size in {}", cs.name),
            ));
        }
        if let Some(n) =
            get(&["timeout", "connecttimeout", "connectiontimeout"]).and_then(common::dec)
        {
            settings.push(common::setting(
                SettingKind::AcquireTimeoutMs,
                n * 1000,
                cs.span,
                &format!("Timeout in {}", cs.name),
            ));
        }
        if cs.from_file {
            endpoints.push(ConfigEndpoint {
                value: cs.value.clone(),
                span: cs.span,
                key: cs.name.clone(),
                datasource: None,
            });
        }
    }
    Some(Pool {
        stack: if npgsql { "npgsql" } else { "adonet" },
        pool_max: if unknown.is_some() {
            None
        } else {
            common::max_fact(pools)
        },
        processes: Fact::default(1, "one .NET process per container"),
        endpoints,
        unknown,
        settings,
    })
}

/// Every visible connection string, env overriding appsettings files by name.
fn connection_strings(ctx: &Ctx) -> Vec<ConnString> {
    let mut out: Vec<ConnString> = Vec::new();
    for v in &ctx.env.vars {
        let Some(value) = v.value.as_deref().filter(|x| is_adonet(x)) else {
            continue;
        };
        const PREFIX: &str = "connectionstrings__";
        let name = match v.name.get(..PREFIX.len()) {
            Some(p) if p.eq_ignore_ascii_case(PREFIX) => {
                format!("ConnectionStrings:{}", &v.name[PREFIX.len()..])
            }
            _ => v.name.clone(),
        };
        out.push(ConnString {
            name,
            value: value.to_string(),
            span: v.span,
            from_file: false,
        });
    }
    let environment = ["ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT"]
        .iter()
        .find_map(|n| common::env_str(ctx, n))
        .map_or("Production".to_string(), |(v, _)| v.trim().to_string());
    let mut files: Vec<(usize, &crate::model::mounts::ConfigFile)> = ctx
        .files
        .iter()
        .filter(|f| f.format == Format::Json)
        .filter_map(|f| {
            let n = f.name.to_ascii_lowercase();
            let rank = if n == "appsettings.json" {
                0
            } else if n == format!("appsettings.{}.json", environment.to_ascii_lowercase()) {
                1
            } else {
                return None;
            };
            Some((usize::from(f.mounted) * 10 + rank, f))
        })
        .collect();
    files.sort_by_key(|(r, _)| std::cmp::Reverse(*r));
    for (_, f) in files {
        for e in common::file_entries(f) {
            const PREFIX: &str = "connectionstrings.";
            let Some(rest) = e
                .key
                .get(..PREFIX.len())
                .filter(|p| p.eq_ignore_ascii_case(PREFIX))
                .map(|_| &e.key[PREFIX.len()..])
            else {
                continue;
            };
            let name = format!("ConnectionStrings:{rest}");
            let Some(value) = e.value.filter(|v| is_adonet(v)) else {
                continue;
            };
            if out.iter().any(|o| o.name.eq_ignore_ascii_case(&name)) {
                continue;
            }
            out.push(ConnString {
                name,
                value,
                span: e.span,
                from_file: true,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::common::test::Fx;
    use super::*;

    #[test]
    fn maximum_pool_size_from_env_and_default() {
        let fx = Fx::new().env(
            "ConnectionStrings__Orders",
            "Host=orders-db;Database=orders;Username=app;Maximum Pool Size=50;Minimum Pool Size=5;Timeout=0",
        );
        let p = detect(&fx.ctx()).unwrap();
        assert_eq!((p.stack, p.pool_max.unwrap().value), ("npgsql", 50));
        let kinds: Vec<_> = p.settings.iter().map(|s| (s.kind, s.value.value)).collect();
        assert_eq!(
            kinds,
            vec![
                (SettingKind::MinIdle, 5),
                (SettingKind::AcquireTimeoutMs, 0)
            ]
        );
        assert!(p.endpoints.is_empty());

        let fx = Fx::new().env("DB", "Server=sql;Database=x;User Id=app;Max Pool Size=30");
        let p = detect(&fx.ctx()).unwrap();
        assert_eq!((p.stack, p.pool_max.unwrap().value), ("adonet", 30));
        let fx = Fx::new().env("ConnectionStrings__Main", "Host=pg;Database=x;Username=u");
        let f = detect(&fx.ctx()).unwrap().pool_max.unwrap();
        assert_eq!(f.value, 100);
        assert!(f.span().is_none());
    }

    #[test]
    fn appsettings_by_environment_and_env_override() {
        let base = r#"{"ConnectionStrings": {"Orders": "Host=orders-db;Database=orders;Max Pool Size=20"}}"#;
        let staging = r#"{"ConnectionStrings": {"Orders": "Host=orders-db;Database=orders;Max Pool Size=7"}}"#;
        let fx = Fx::new()
            .file("appsettings.json", base)
            .file("appsettings.Staging.json", staging);
        let p = detect(&fx.ctx()).unwrap();
        assert_eq!(p.pool_max.unwrap().value, 20, "Production is the default");
        assert_eq!(p.endpoints[0].key, "ConnectionStrings:Orders");
        let fx = fx.env("ASPNETCORE_ENVIRONMENT", "Staging");
        assert_eq!(detect(&fx.ctx()).unwrap().pool_max.unwrap().value, 7);
        let fx = fx.env(
            "ConnectionStrings__Orders",
            "Host=orders-db;Database=orders;Max Pool Size=3",
        );
        let p = detect(&fx.ctx()).unwrap();
        assert_eq!(p.pool_max.unwrap().value, 3);
        assert!(p.endpoints.is_empty());
    }

    #[test]
    fn pooling_off_is_unknown_and_urls_are_not_adonet() {
        let fx = Fx::new().env("ConnectionStrings__X", "Host=pg;Database=x;Pooling=false");
        assert!(detect(&fx.ctx()).unwrap().pool_max.is_none());
        let fx = Fx::new().env("DATABASE_URL", "postgres://pg/x?a=1;b=2");
        assert!(detect(&fx.ctx()).is_none());
        let fx = Fx::new().env("DSN", "host=pg dbname=x user=u");
        assert!(detect(&fx.ctx()).is_none());
    }
}
