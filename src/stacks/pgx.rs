//! Go pgx v5 `pgxpool`: `pool_max_conns` in a postgres URL or key/value DSN; absent, the pool
//! is `max(4, runtime.NumCPU())` — the node's CPUs, not the container's quota (domain.md §1.5,
//! §1.10 [V]: `jackc/pgx` `pgxpool/pool.go` `ParseConfig`). `pool_min_conns` is the minimum.
//!
//! Recognised conservatively: only a DSN that carries a `pool_*` parameter of pgxpool, or an
//! image/env that names pgx. A Go binary with a bare `DATABASE_URL` may use `database/sql`
//! (unlimited by default), so it is left unrecognised and reported as `unresolved-pool-size`.

use super::common;
use super::{Ctx, Pool, SettingKind, Stack};
use crate::model::endpoint::{self, EngineHint};
use crate::report::Fact;
use crate::source::Span;

/// The stack entry.
pub static STACK: Stack = Stack {
    name: "pgx",
    detect,
};

/// Connection-string parameters only pgxpool reads.
const PGX_PARAMS: &[&str] = &[
    "pool_max_conns",
    "pool_min_conns",
    "pool_min_idle_conns",
    "pool_max_conn_lifetime",
    "pool_max_conn_lifetime_jitter",
    "pool_max_conn_idle_time",
    "pool_health_check_period",
];
const CPU_WHAT: &str = "pgxpool pool_max_conns default max(4, runtime.NumCPU())";

/// A postgres DSN in the environment: its env var, span and parameters.
struct Dsn {
    name: String,
    span: Span,
    params: Vec<(String, String)>,
}

fn dsns(ctx: &Ctx) -> Vec<Dsn> {
    ctx.env
        .vars
        .iter()
        .filter_map(|v| {
            let ep = endpoint::parse(v.value.as_deref()?)?;
            (ep.engine == EngineHint::Postgres && !v.value.as_deref()?.contains(';')).then(|| Dsn {
                name: v.name.clone(),
                span: v.span,
                params: ep.params,
            })
        })
        .collect()
}

fn detect(ctx: &Ctx) -> Option<Pool> {
    let all = dsns(ctx);
    let hinted = ctx
        .env
        .vars
        .iter()
        .any(|v| v.name.starts_with("PGX_") || v.name.contains("PGXPOOL"))
        || ctx
            .image
            .rsplit('/')
            .next()
            .is_some_and(|i| i.contains("pgx"));
    let (pgx, rest): (Vec<Dsn>, Vec<Dsn>) = all.into_iter().partition(|d| {
        d.params
            .iter()
            .any(|(k, _)| PGX_PARAMS.contains(&k.as_str()))
    });
    if pgx.is_empty() && !hinted {
        return None;
    }
    let chosen = if pgx.is_empty() { rest } else { pgx };
    let mut pools = Vec::new();
    let mut unknown = None;
    let mut settings = Vec::new();
    let mut cpu_default = false;
    let mut cpu_at = None;
    for d in &chosen {
        let param = |k: &str| d.params.iter().find(|(pk, _)| pk == k).map(|(_, v)| v);
        match param("pool_max_conns") {
            Some(v) => {
                match common::int_at(v, d.span, &format!("`pool_max_conns` in {}", d.name)) {
                    Ok(f) => pools.push(f),
                    Err(e) => {
                        unknown.get_or_insert(e);
                    }
                }
            }
            None => {
                cpu_default = true;
                cpu_at.get_or_insert(d.span);
                match cpu_pool(ctx) {
                    Some(f) => pools.push(f),
                    None => {
                        unknown.get_or_insert((
                            d.span,
                            format!("{} sets no `pool_max_conns`, so pgxpool opens max(4, CPUs of the node) connections; set `pool_max_conns` or declare `nodes: {{cpus: N}}` in poolguard.yaml", d.name),
                        ));
                    }
                }
            }
        }
        if let Some(v) = param("pool_min_conns")
            && let Some(n) = common::dec(v)
        {
            settings.push(common::setting(
                SettingKind::MinIdle,
                n,
                d.span,
                &format!("pool_min_conns in {}", d.name),
            ));
        }
    }
    if chosen.is_empty() {
        // pgx is named but no DSN is visible (split PG* variables): the default applies.
        cpu_default = true;
        match cpu_pool(ctx) {
            Some(f) => pools.push(f),
            None => {
                let span = ctx.env.vars.first().map(|v| v.span).unwrap_or_default();
                unknown = Some((
                    span,
                    "pgxpool's default pool is max(4, CPUs of the node); set `pool_max_conns` or declare `nodes: {cpus: N}` in poolguard.yaml".into(),
                ));
            }
        }
    }
    if cpu_default {
        let value =
            cpu_pool(ctx).unwrap_or_else(|| Fact::default(4, "pgxpool default: at least 4"));
        settings.push(common::cpu_dependent(value, CPU_WHAT, cpu_at));
    }
    Some(Pool {
        stack: "pgx",
        pool_max: if unknown.is_some() {
            None
        } else {
            common::max_fact(pools)
        },
        processes: Fact::default(1, "one Go process per container"),
        endpoints: Vec::new(),
        unknown,
        settings,
    })
}

/// `max(4, node CPUs)` when the node CPUs are declared.
fn cpu_pool(ctx: &Ctx) -> Option<Fact> {
    let cpus = ctx.node_cpus.clone()?;
    Some(if cpus.value >= 4 {
        cpus
    } else {
        Fact::default(4, "pgxpool default max(4, NumCPU): 4")
    })
}

#[cfg(test)]
mod tests {
    use super::super::common::test::Fx;
    use super::*;

    #[test]
    fn pool_max_conns_in_a_url_or_keyword_dsn() {
        let fx = Fx::new().env(
            "DATABASE_URL",
            "postgres://ledger@ledger-db:5432/ledger?pool_max_conns=30&pool_min_conns=5",
        );
        let p = detect(&fx.ctx()).unwrap();
        assert_eq!(p.pool_max.unwrap().value, 30);
        assert_eq!(p.settings[0].kind, SettingKind::MinIdle);
        assert_eq!(p.settings[0].value.value, 5);

        let fx = Fx::new().env("PG_DSN", "host=ledger-db dbname=ledger pool_max_conns=8");
        assert_eq!(detect(&fx.ctx()).unwrap().pool_max.unwrap().value, 8);
    }

    #[test]
    fn cpu_default_needs_declared_node_cpus() {
        let url = "postgres://ledger@ledger-db/ledger?pool_max_conn_lifetime=1h";
        let fx = Fx::new().env("DATABASE_URL", url);
        let p = detect(&fx.ctx()).unwrap();
        assert!(p.pool_max.is_none());
        assert!(p.unknown.unwrap().1.contains("nodes: {cpus: N}"));
        assert_eq!(p.settings[0].kind, SettingKind::CpuDependentDefault);

        let fx = Fx::new().env("DATABASE_URL", url).cpus(16);
        let p = detect(&fx.ctx()).unwrap();
        assert_eq!(p.pool_max.unwrap().value, 16);
        let s = &p.settings[0];
        assert_eq!(s.kind, SettingKind::CpuDependentDefault);
        // The marker sits on the DSN that lacks `pool_max_conns`, where the fix goes.
        assert_eq!((s.value.value, fx.origin(&s.value).as_str()), (16, url));
        let fx = Fx::new().env("DATABASE_URL", url).cpus(2);
        assert_eq!(detect(&fx.ctx()).unwrap().pool_max.unwrap().value, 4);
    }

    #[test]
    fn a_bare_go_dsn_is_not_claimed() {
        let fx = Fx::new()
            .env(
                "DATABASE_URL",
                "postgres://ledger_sync@ledger-db:5432/ledger?sslmode=require",
            )
            .args(&["/ledger-sync"]);
        assert!(detect(&fx.ctx()).is_none());
        // Prisma's pool_timeout is not a pgx parameter.
        let fx = Fx::new().env("DATABASE_URL", "postgres://db/x?pool_timeout=10");
        assert!(detect(&fx.ctx()).is_none());
    }
}
