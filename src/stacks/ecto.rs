//! Elixir Ecto (DBConnection): `POOL_SIZE`, default 10 — Phoenix's generated `runtime.exs`
//! reads `String.to_integer(System.get_env("POOL_SIZE") || "10")`, and 10 is also Ecto's own
//! default (domain.md §1.8; `elixir-ecto/ecto` `lib/ecto/repo/supervisor.ex` `@defaults`).
//! A `?pool_size=N` query parameter in the repo URL is merged over the config and wins
//! (same file: `@integer_url_query_params`, `Keyword.merge(config, parse_url(url))`).
//!
//! Recognised only when Elixir is evident: `MIX_ENV`, `PHX_HOST`/`PHX_SERVER`, a `mix release`
//! variable (`RELEASE_COOKIE`, `RELEASE_NODE`, …), an `ecto://` URL, or `mix` on the command
//! line. One BEAM node per container.

use super::common;
use super::{Ctx, Pool, Stack};
use crate::model::endpoint;
use crate::report::Fact;

/// The stack entry.
pub static STACK: Stack = Stack {
    name: "ecto",
    detect,
};

const DEFAULT_POOL: i64 = 10;
/// Variables a `mix release` start script reads (`RELEASE_COOKIE`, …); `RELEASE_NAME` and
/// `RELEASE_VERSION` are left out because other tooling uses them too.
const RELEASE_VARS: &[&str] = &[
    "COOKIE",
    "NODE",
    "DISTRIBUTION",
    "TMP",
    "ROOT",
    "MODE",
    "VM_ARGS",
    "REMOTE_VM_ARGS",
    "SYS_CONFIG",
    "BOOT_SCRIPT",
    "BOOT_SCRIPT_CLEAN",
];

fn detect(ctx: &Ctx) -> Option<Pool> {
    let env = ctx.env.vars.iter().any(|v| {
        matches!(v.name.as_str(), "MIX_ENV" | "PHX_HOST" | "PHX_SERVER")
            || v.name
                .strip_prefix("RELEASE_")
                .is_some_and(|r| RELEASE_VARS.contains(&r))
            || v.value
                .as_deref()
                .is_some_and(|u| u.trim_start().to_ascii_lowercase().starts_with("ecto://"))
    });
    let words = common::words(ctx.args);
    if !env && common::program(&words, &["mix", "elixir", "iex"]).is_none() {
        return None;
    }
    // A `pool_size` in the repo URL wins over the config.
    let from_url = ctx.env.vars.iter().find_map(|v| {
        let value = v.value.as_deref()?;
        let ep = endpoint::parse(value)?;
        let (_, n) = ep.params.iter().find(|(k, _)| k == "pool_size")?;
        Some(common::int_at(
            n,
            v.span,
            &format!("`pool_size` in {}", v.name),
        ))
    });
    let pool = from_url
        .or_else(|| common::env_int(ctx, "POOL_SIZE"))
        .unwrap_or_else(|| {
            Ok(Fact::default(
                DEFAULT_POOL,
                "Ecto pool_size default (Phoenix runtime.exs: POOL_SIZE or 10)",
            ))
        });
    let (pool_max, unknown) = match pool {
        Ok(f) => (Some(f), None),
        Err(e) => (None, Some(e)),
    };
    Some(Pool {
        stack: "ecto",
        pool_max,
        processes: Fact::default(1, "one BEAM node per container"),
        endpoints: Vec::new(),
        unknown,
        settings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::common::test::Fx;
    use super::*;

    #[test]
    fn pool_size_env_and_default() {
        let fx = Fx::new()
            .env("PHX_HOST", "shop.example.com")
            .env("POOL_SIZE", "25")
            .env("DATABASE_URL", "ecto://shop@shop-db/shop");
        let p = detect(&fx.ctx()).unwrap();
        let f = p.pool_max.unwrap();
        assert_eq!((f.value, fx.origin(&f).as_str()), (25, "25"));

        let fx = Fx::new().env("MIX_ENV", "prod");
        let f = detect(&fx.ctx()).unwrap().pool_max.unwrap();
        assert_eq!(f.value, 10);
        assert!(f.span().is_none());

        let fx = Fx::new()
            .env("RELEASE_COOKIE", "x")
            .env("POOL_SIZE", "25")
            .env("DATABASE_URL", "postgres://shop@shop-db/shop?pool_size=4");
        assert_eq!(detect(&fx.ctx()).unwrap().pool_max.unwrap().value, 4);
    }

    #[test]
    fn only_when_elixir_is_evident() {
        let fx = Fx::new()
            .env("POOL_SIZE", "25")
            .env("DATABASE_URL", "postgres://shop@shop-db/shop");
        assert!(detect(&fx.ctx()).is_none());
        let fx = Fx::new()
            .env("RELEASE_VERSION", "1.2.3")
            .env("POOL_SIZE", "25")
            .env("DATABASE_URL", "postgres://shop@shop-db/shop");
        assert!(detect(&fx.ctx()).is_none());
        let fx = Fx::new().env("MIX_ENV", "prod").env("POOL_SIZE", "many");
        assert!(detect(&fx.ctx()).unwrap().pool_max.is_none());
    }
}
