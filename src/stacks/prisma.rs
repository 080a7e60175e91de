//! Prisma (≤ v6, Rust query engine): `connection_limit` in the datasource URL; absent, the pool
//! is `num_physical_cpus × 2 + 1` of the node (domain.md §1.4, §1.10 [V]: `prisma-engines`
//! `quaint/src/pooled.rs`; https://www.prisma.io/docs/orm/v6/prisma-client/setup-and-configuration/databases-connections/connection-pool).
//! `pool_timeout` (seconds; 0 = wait forever) is the acquire timeout.
//!
//! Recognised by Prisma's own URL parameters (`connection_limit`, `pool_timeout`, `schema`,
//! `pgbouncer`, …) or `PRISMA_*` env. Processes: PM2 `pm2-runtime … -i N` / `--instances N`
//! (`max` or 0 is the CPU count, `-N` is CPUs − N; https://pm2.keymetrics.io/docs/usage/cluster-mode/),
//! else one Node process. Prisma ≥ v7 pools through driver adapters, which this does not see.

use super::common::{self, Word};
use super::{Ctx, Pool, Setting, SettingKind, Stack};
use crate::model::endpoint;
use crate::report::Fact;
use crate::source::Span;

/// The stack entry.
pub static STACK: Stack = Stack {
    name: "prisma",
    detect,
};

/// URL parameters only Prisma's engine reads.
const PRISMA_PARAMS: &[&str] = &[
    "connection_limit",
    "pool_timeout",
    "schema",
    "pgbouncer",
    "socket_timeout",
    "statement_cache_size",
    "sslaccept",
];
const CPU_WHAT: &str = "Prisma connection_limit default 2 × physical CPUs + 1";

fn detect(ctx: &Ctx) -> Option<Pool> {
    // (env var, where its value is written, URL parameters)
    type Url<'a> = (&'a str, Span, Vec<(String, String)>);
    let urls: Vec<Url> = ctx
        .env
        .vars
        .iter()
        .filter_map(|v| {
            let value = v.value.as_deref()?;
            value.contains("://").then_some(())?;
            Some((v.name.as_str(), v.span, endpoint::parse(value)?.params))
        })
        .collect();
    let hinted = ctx.env.vars.iter().any(|v| v.name.starts_with("PRISMA_"));
    let (prisma, rest): (Vec<_>, Vec<_>) = urls.into_iter().partition(|(_, _, params)| {
        params
            .iter()
            .any(|(k, _)| PRISMA_PARAMS.contains(&k.as_str()))
    });
    if prisma.is_empty() && !hinted {
        return None;
    }
    let chosen = if prisma.is_empty() { rest } else { prisma };
    let mut pools = Vec::new();
    let mut unknown = None;
    let mut settings = Vec::new();
    let mut cpu_default = chosen.is_empty();
    let mut cpu_at = None;
    for (name, span, params) in &chosen {
        let param = |k: &str| params.iter().find(|(pk, _)| pk == k).map(|(_, v)| v);
        match param("connection_limit") {
            Some(v) => match common::int_at(v, *span, &format!("`connection_limit` in {name}")) {
                Ok(f) => pools.push(f),
                Err(e) => {
                    unknown.get_or_insert(e);
                }
            },
            None => {
                cpu_default = true;
                cpu_at.get_or_insert(*span);
                match cpu_pool(ctx) {
                    Some(f) => pools.push(f),
                    None => {
                        unknown.get_or_insert((
                            *span,
                            format!("{name} sets no `connection_limit`, so Prisma opens 2 × CPUs + 1 of the node; set `connection_limit` or declare `nodes: {{cpus: N}}` in poolguard.yaml"),
                        ));
                    }
                }
            }
        }
        if let Some(v) = param("pool_timeout")
            && let Some(ms) = common::duration_ms(v, 1000)
        {
            settings.push(common::setting(
                SettingKind::AcquireTimeoutMs,
                ms,
                *span,
                &format!("pool_timeout in {name}"),
            ));
        }
    }
    if chosen.is_empty() {
        match cpu_pool(ctx) {
            Some(f) => pools.push(f),
            None => {
                let span = ctx.env.vars.first().map(|v| v.span).unwrap_or_default();
                unknown = Some((span, "Prisma's default pool is 2 × CPUs + 1 of the node; set `connection_limit` or declare `nodes: {cpus: N}` in poolguard.yaml".into()));
            }
        }
    }
    if cpu_default {
        let value = cpu_pool(ctx)
            .unwrap_or_else(|| Fact::default(3, "Prisma default 2 × CPUs + 1: at least 3"));
        settings.push(common::cpu_dependent(value, CPU_WHAT, cpu_at));
    }
    let words = common::words(ctx.args);
    let (processes, proc_unknown) = pm2_instances(ctx, &words, &mut settings);
    let unknown = unknown.or(proc_unknown);
    Some(Pool {
        stack: "prisma",
        pool_max: if unknown.is_some() {
            None
        } else {
            common::max_fact(pools)
        },
        processes,
        endpoints: Vec::new(),
        unknown,
        settings,
    })
}

/// `2 × node CPUs + 1` when the node CPUs are declared.
fn cpu_pool(ctx: &Ctx) -> Option<Fact> {
    let cpus = ctx.node_cpus.as_ref()?;
    let v = 2 * cpus.value + 1;
    Some(match cpus.span() {
        Some(s) => Fact::at(v, s),
        None => Fact::default(v, CPU_WHAT),
    })
}

/// Processes PM2 starts in cluster mode (`-i`), else one.
pub fn pm2_instances(
    ctx: &Ctx,
    words: &[Word],
    settings: &mut Vec<Setting>,
) -> (Fact, Option<(Span, String)>) {
    let one = Fact::default(1, "one Node.js process per container");
    let Some(i) = common::program(words, &["pm2", "pm2-runtime", "pm2-docker"]) else {
        return (one, None);
    };
    let Some((v, span)) = common::flag(words, i, &["-i", "--instances"]) else {
        return (one, None);
    };
    let v = v.trim().to_ascii_lowercase();
    // CPUs minus this many (`max` and 0 are all CPUs).
    let minus = match v.as_str() {
        "max" | "0" => 0,
        _ => match common::dec(&v) {
            Some(n) if n < 0 => -n,
            Some(n) => return (Fact::at(n, span), None),
            None => return (one, Some((span, format!("pm2 -i is `{v}`, not a number")))),
        },
    };
    let what = "pm2 -i max: one process per CPU";
    match &ctx.node_cpus {
        Some(c) => {
            let n = (c.value - minus).max(1);
            let f = match c.span() {
                Some(s) if minus == 0 => Fact::at(n, s),
                _ => Fact::default(n, "pm2 -i: CPUs of the node"),
            };
            settings.push(common::cpu_dependent(f.clone(), what, Some(span)));
            (f, None)
        }
        None => {
            settings.push(common::cpu_dependent(
                Fact::default(1, "pm2 -i max: the CPU count"),
                what,
                None,
            ));
            (
                one,
                Some((
                    span,
                    format!(
                        "pm2 -i {v} starts one process per CPU of the node; set a number or declare `nodes: {{cpus: N}}` in poolguard.yaml"
                    ),
                )),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::test::Fx;
    use super::*;

    #[test]
    fn connection_limit_and_pool_timeout() {
        let fx = Fx::new().env(
            "DATABASE_URL",
            "postgresql://shop:pw@shop-db:5432/shop?schema=public&connection_limit=5&pool_timeout=0",
        );
        let p = detect(&fx.ctx()).unwrap();
        assert_eq!(p.pool_max.unwrap().value, 5);
        assert_eq!(p.processes.value, 1);
        let t = &p.settings[0];
        assert_eq!((t.kind, t.value.value), (SettingKind::AcquireTimeoutMs, 0));
    }

    #[test]
    fn cpu_default_without_connection_limit() {
        let fx = Fx::new().env("DATABASE_URL", "postgresql://shop-db/shop?schema=public");
        let p = detect(&fx.ctx()).unwrap();
        assert!(p.pool_max.is_none());
        assert!(
            p.settings
                .iter()
                .any(|s| s.kind == SettingKind::CpuDependentDefault)
        );
        let fx = fx.cpus(8);
        assert_eq!(detect(&fx.ctx()).unwrap().pool_max.unwrap().value, 17);
        // PRISMA_* env with a plain URL.
        let fx = Fx::new()
            .env("PRISMA_QUERY_ENGINE_LIBRARY", "/app/libquery.so")
            .env("DATABASE_URL", "postgresql://shop-db/shop")
            .cpus(4);
        assert_eq!(detect(&fx.ctx()).unwrap().pool_max.unwrap().value, 9);
    }

    #[test]
    fn pm2_instances_multiply() {
        let url = "postgresql://shop-db/shop?connection_limit=5";
        let fx = Fx::new().env("DATABASE_URL", url).args(&[
            "pm2-runtime",
            "start",
            "dist/main.js",
            "-i",
            "4",
        ]);
        let p = detect(&fx.ctx()).unwrap();
        assert_eq!(
            (p.processes.value, fx.origin(&p.processes).as_str()),
            (4, "4")
        );
        let fx = Fx::new()
            .env("DATABASE_URL", url)
            .args(&["pm2-runtime start ecosystem.config.js --instances max"]);
        assert!(detect(&fx.ctx()).unwrap().pool_max.is_none());
        let fx = fx.cpus(8);
        assert_eq!(detect(&fx.ctx()).unwrap().processes.value, 8);
        let fx = Fx::new()
            .env("DATABASE_URL", url)
            .args(&["pm2-runtime", "app.js", "-i", "-1"])
            .cpus(8);
        assert_eq!(detect(&fx.ctx()).unwrap().processes.value, 7);
    }

    #[test]
    fn not_prisma_without_its_parameters() {
        let fx = Fx::new().env("DATABASE_URL", "postgresql://shop-db/shop?sslmode=require");
        assert!(detect(&fx.ctx()).is_none());
    }
}
