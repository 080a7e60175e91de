//! Python servers and workers: the process count from gunicorn, uvicorn, hypercorn or Celery,
//! and the per-process pool only where it is declared.
//!
//! Python pools are sized in code or in a config file the app hands to SQLAlchemy's
//! `engine_from_config`, so the pool (pool_size + max_overflow) is read from
//! `sqlalchemy.pool_size` / `sqlalchemy.max_overflow` in a mounted config file — dotted
//! (Pyramid/Alembic `.ini`) or nested (`database: {sqlalchemy: {pool_size: …}}`), with
//! `${VAR}` placeholders resolved against the container env (domain.md §1.2) — else from the
//! conventional env vars `SQLALCHEMY_POOL_SIZE`/`DB_POOL_SIZE` and
//! `SQLALCHEMY_MAX_OVERFLOW`/`DB_MAX_OVERFLOW`. When SQLAlchemy is evident (such a file key, an
//! `SQLALCHEMY_*` variable, or a `dialect+driver://` URL), a missing half takes SQLAlchemy's
//! default (5 + 10, domain.md §1.2 [V]); otherwise the pool size is reported unknown — never
//! guessed. `max_overflow` -1 is an unbounded pool.
//!
//! Processes (domain.md §2): gunicorn `-w`/`--workers` on the command line, else in
//! `GUNICORN_CMD_ARGS`, else `WEB_CONCURRENCY`, else 1 (command line over `GUNICORN_CMD_ARGS`:
//! https://docs.gunicorn.org/en/stable/configure.html); `--threads` share each worker's pool.
//! uvicorn `--workers`, else `UVICORN_WORKERS`/`WEB_CONCURRENCY`, else 1. Celery `worker`
//! `-c`/`--concurrency` prefork children (the CPU count when absent), one process for the
//! `solo`/`threads`/`gevent`/`eventlet` pools (whose concurrency shares it), plus one for an
//! embedded beat (`-B`).

use super::common::{self, Word};
use super::{Ctx, Pool, Setting, SettingKind, Stack};
use crate::report::Fact;
use crate::source::Span;

/// The stack entry.
pub static STACK: Stack = Stack {
    name: "python",
    detect,
};

const SERVERS: &[&str] = &["gunicorn", "uvicorn", "hypercorn", "celery", "daphne"];

fn detect(ctx: &Ctx) -> Option<Pool> {
    let words = common::words(ctx.args);
    if !is_python(ctx, &words) {
        return None;
    }
    let mut settings = Vec::new();
    let (processes, proc_unknown) = processes(ctx, &words, &mut settings);
    let (pool_max, pool_unknown) = pool_max(ctx, &words, &mut settings);
    let unknown = pool_unknown.or(proc_unknown);
    Some(Pool {
        stack: "python",
        pool_max: if unknown.is_some() { None } else { pool_max },
        processes,
        endpoints: Vec::new(),
        unknown,
        settings,
    })
}

fn is_python(ctx: &Ctx, words: &[Word]) -> bool {
    let program = words.iter().any(|w| {
        let b = common::base(w.text);
        SERVERS.contains(&b) || b.starts_with("python") || b == "manage.py" || b == "flask"
    });
    let env = ctx.env.vars.iter().any(|v| {
        v.name.starts_with("SQLALCHEMY_")
            || v.name.starts_with("PYTHON")
            || matches!(
                v.name.as_str(),
                "GUNICORN_CMD_ARGS" | "DJANGO_SETTINGS_MODULE" | "FLASK_APP" | "UVICORN_WORKERS"
            )
    });
    let image = ctx
        .image
        .rsplit('/')
        .next()
        .is_some_and(|i| i.starts_with("python"));
    program || env || image || sqlalchemy_evident(ctx) || sqlalchemy_config(ctx)
}

/// Whether a config file carries SQLAlchemy's `engine_from_config` pool keys.
fn sqlalchemy_config(ctx: &Ctx) -> bool {
    ctx.files.iter().any(|f| {
        common::any_entry_key(f, &|k, env| {
            !env && CONFIG_KEYS.iter().any(|suffix| is_config_key(k, suffix))
        })
    })
}

/// SQLAlchemy's `engine_from_config` names for the pool (prefix `sqlalchemy.`).
const CONFIG_KEYS: [&str; 2] = ["sqlalchemy.pool_size", "sqlalchemy.max_overflow"];

/// `key` is `suffix`, or ends with `.suffix` (nested under an app's own section).
fn is_config_key(key: &str, suffix: &str) -> bool {
    key.strip_suffix(suffix)
        .is_some_and(|head| head.is_empty() || head.ends_with('.'))
}

/// The last value of an `engine_from_config` key in the config files, placeholders resolved
/// against the container env, with the key as its name.
fn config_int(ctx: &Ctx, suffix: &str) -> Option<(String, common::Num)> {
    let lookup = |n: &str| common::env_str(ctx, n).map(|(v, s)| (v.to_string(), s));
    common::last_file_entry(ctx.files, &|k, env| !env && is_config_key(k, suffix))
        .map(|e| (e.key.clone(), common::entry_int(&e, &lookup)))
}

/// SQLAlchemy is evident from its settings or its `dialect+driver://` URL form.
fn sqlalchemy_evident(ctx: &Ctx) -> bool {
    ctx.env.vars.iter().any(|v| {
        v.name.starts_with("SQLALCHEMY_")
            || v.value.as_deref().is_some_and(|u| {
                u.split_once("://")
                    .is_some_and(|(scheme, _)| scheme.contains('+') && !scheme.contains(' '))
            })
    })
}

/// The first of several env vars that is set.
fn first_env(ctx: &Ctx, names: &[&str]) -> Option<(String, common::Num)> {
    names
        .iter()
        .find_map(|n| common::env_int(ctx, n).map(|r| (n.to_string(), r)))
}

fn pool_max(
    ctx: &Ctx,
    words: &[Word],
    settings: &mut Vec<Setting>,
) -> (Option<Fact>, Option<(Span, String)>) {
    // A config file the app gives `engine_from_config` outranks the env conventions (its
    // values usually name those variables in `${…}` placeholders anyway).
    let file_size = config_int(ctx, CONFIG_KEYS[0]);
    let file_overflow = config_int(ctx, CONFIG_KEYS[1]);
    let evident = sqlalchemy_evident(ctx) || file_size.is_some() || file_overflow.is_some();
    let size = file_size.or_else(|| first_env(ctx, &["SQLALCHEMY_POOL_SIZE", "DB_POOL_SIZE"]));
    let overflow =
        file_overflow.or_else(|| first_env(ctx, &["SQLALCHEMY_MAX_OVERFLOW", "DB_MAX_OVERFLOW"]));
    let anchor = words
        .first()
        .map(|w| w.span)
        .or_else(|| ctx.env.vars.first().map(|v| v.span))
        .unwrap_or_default();
    let declare =
        "annotate the pod template with `poolguard.dev/pool-max` (connections per process)";
    let size = match size {
        Some((_, Err(e))) => return (None, Some(e)),
        Some((n, Ok(f))) => Some((n, f)),
        None => None,
    };
    let overflow = match overflow {
        Some((_, Err(e))) => return (None, Some(e)),
        Some((n, Ok(f))) => Some((n, f)),
        None => None,
    };
    if let Some((name, f)) = &overflow
        && f.value == -1
    {
        settings.push(Setting {
            kind: SettingKind::Unbounded,
            value: f.clone(),
            what: format!("{name} (SQLAlchemy max_overflow -1)"),
        });
        return (
            None,
            Some((
                f.span().unwrap_or(anchor),
                format!(
                    "`{name}` is -1: SQLAlchemy's overflow has no limit, so the pool is unbounded"
                ),
            )),
        );
    }
    match (size, overflow) {
        (Some((_, s)), Some((_, o))) => (Some(sum(&s, &o)), None),
        (Some((_, s)), None) if evident => (
            Some(sum(
                &s,
                &Fact::default(10, "SQLAlchemy max_overflow default"),
            )),
            None,
        ),
        (None, Some((_, o))) if evident => (
            Some(sum(&Fact::default(5, "SQLAlchemy pool_size default"), &o)),
            None,
        ),
        (None, None) if evident => (
            Some(Fact::default(
                15,
                "SQLAlchemy QueuePool default pool_size 5 + max_overflow 10",
            )),
            None,
        ),
        (Some((name, s)), None) => (
            None,
            Some((
                s.span().unwrap_or(anchor),
                format!(
                    "`{name}` is {} but the overflow is not declared (SQLAlchemy adds max_overflow 10 by default); set `DB_MAX_OVERFLOW`/`SQLALCHEMY_MAX_OVERFLOW` or {declare}",
                    s.value
                ),
            )),
        ),
        (None, Some((name, o))) => (
            None,
            Some((
                o.span().unwrap_or(anchor),
                format!(
                    "`{name}` is set but the pool size is not (`DB_POOL_SIZE`/`SQLALCHEMY_POOL_SIZE`); set it or {declare}"
                ),
            )),
        ),
        (None, None) => {
            let django = ctx.env.get("DJANGO_SETTINGS_MODULE").is_some()
                || words.iter().any(|w| common::base(w.text) == "manage.py");
            let why = if django {
                format!(
                    "Django opens one connection per thread (or per its own pool) and none is declared; {declare}"
                )
            } else {
                format!(
                    "a Python process sizes its pool in code and no pool size is declared (`DB_POOL_SIZE` + `DB_MAX_OVERFLOW`); {declare}"
                )
            };
            (None, Some((anchor, why)))
        }
    }
}

/// `pool_size + max_overflow`, pointing at whichever is written (the size first).
fn sum(size: &Fact, overflow: &Fact) -> Fact {
    let v = size.value + overflow.value;
    match size.span().or(overflow.span()) {
        Some(s) => Fact::at(v, s),
        None => Fact::default(
            v,
            "SQLAlchemy QueuePool default pool_size 5 + max_overflow 10",
        ),
    }
}

/// Words of `GUNICORN_CMD_ARGS`, spanned at the variable's value.
fn cmd_args_words<'a>(ctx: &'a Ctx) -> Vec<Word<'a>> {
    let Some((text, span)) = common::env_str(ctx, "GUNICORN_CMD_ARGS") else {
        return Vec::new();
    };
    let mut out = vec![Word {
        text: "gunicorn",
        span,
    }];
    out.extend(text.split_whitespace().map(|w| Word {
        text: w.trim_matches(['"', '\'']),
        span,
    }));
    out
}

fn processes(
    ctx: &Ctx,
    words: &[Word],
    settings: &mut Vec<Setting>,
) -> (Fact, Option<(Span, String)>) {
    let first = words
        .iter()
        .enumerate()
        .find(|(_, w)| SERVERS.contains(&common::base(w.text)))
        .map(|(i, w)| (i, common::base(w.text)));
    let gunicorn_env = cmd_args_words(ctx);
    let (i, server) = match first {
        Some(x) => x,
        None if !gunicorn_env.is_empty() => (usize::MAX, "gunicorn"),
        None => return (Fact::default(1, "one Python process per container"), None),
    };
    let int = |v: &str, span: Span, what: &str| common::int_at(v, span, what);
    let from_env = |names: &[&str]| first_env(ctx, names).map(|(_, r)| r);
    let result: Result<Fact, (Span, String)> = match server {
        "gunicorn" => {
            let on_cmd = |flags: &[&str]| {
                let cmd = (i != usize::MAX)
                    .then(|| common::flag(words, i, flags))
                    .flatten();
                cmd.or_else(|| {
                    (!gunicorn_env.is_empty())
                        .then(|| common::flag(&gunicorn_env, 0, flags))
                        .flatten()
                })
            };
            if let Some((v, s)) = on_cmd(&["--threads"])
                && let Some(t) = common::dec(&v)
            {
                settings.push(common::setting(
                    SettingKind::Concurrency,
                    t,
                    s,
                    "gunicorn --threads",
                ));
            }
            match on_cmd(&["-w", "--workers"]) {
                Some((v, s)) => int(&v, s, "gunicorn --workers"),
                None => from_env(&["WEB_CONCURRENCY"])
                    .unwrap_or_else(|| Ok(Fact::default(1, "gunicorn workers default 1"))),
            }
        }
        "uvicorn" | "hypercorn" => match common::flag(words, i, &["--workers", "-w"]) {
            Some((v, s)) => int(&v, s, "--workers"),
            None if server == "uvicorn" => from_env(&["UVICORN_WORKERS", "WEB_CONCURRENCY"])
                .unwrap_or_else(|| Ok(Fact::default(1, "uvicorn workers default 1"))),
            None => Ok(Fact::default(1, "hypercorn workers default 1")),
        },
        "celery" => return celery(ctx, words, i, settings),
        _ => Ok(Fact::default(1, "one Python process per container")),
    };
    match result {
        Ok(f) if f.value >= 1 => (f, None),
        Ok(f) => (
            Fact::default(1, "one process"),
            Some((
                f.span().unwrap_or_default(),
                format!("{server} workers is {}", f.value),
            )),
        ),
        Err(e) => (Fact::default(1, "one process"), Some(e)),
    }
}

fn celery(
    ctx: &Ctx,
    words: &[Word],
    i: usize,
    settings: &mut Vec<Setting>,
) -> (Fact, Option<(Span, String)>) {
    let sub = words[i + 1..]
        .iter()
        .take_while(|w| !matches!(w.text, "&&" | "||" | ";" | "|"))
        .find(|w| matches!(w.text, "worker" | "beat" | "flower" | "inspect"))
        .map(|w| w.text);
    if sub != Some("worker") {
        return (Fact::default(1, "one Celery process (not a worker)"), None);
    }
    let beat = common::has_flag(words, i, &["-B", "--beat"]);
    let pool = common::flag(words, i, &["-P", "--pool"]).map(|(v, _)| v);
    let single = matches!(
        pool.as_deref(),
        Some("solo" | "threads" | "gevent" | "eventlet")
    );
    let conc = common::flag(words, i, &["-c", "--concurrency"]);
    let conc = match conc {
        Some((v, s)) => match common::int_at(&v, s, "celery --concurrency") {
            Ok(f) => Some(f),
            Err(e) => return (Fact::default(1, "one process"), Some(e)),
        },
        None => None,
    };
    if single {
        if let Some(c) = &conc {
            settings.push(Setting {
                kind: SettingKind::Concurrency,
                value: c.clone(),
                what: format!(
                    "celery --concurrency ({} pool)",
                    pool.as_deref().unwrap_or("")
                ),
            });
        }
        let n = 1 + i64::from(beat);
        return (
            Fact::default(
                n,
                if beat {
                    "Celery worker + embedded beat: two processes"
                } else {
                    "Celery solo/threads/gevent pool: one process"
                },
            ),
            None,
        );
    }
    let add_beat = |f: Fact| -> Fact {
        if !beat {
            return f;
        }
        match f.span() {
            Some(s) => Fact::at(f.value + 1, s),
            None => Fact::default(
                f.value + 1,
                "Celery prefork children (CPU count) + embedded beat",
            ),
        }
    };
    match conc {
        Some(c) => (add_beat(c), None),
        None => {
            let what = "celery worker --concurrency default (CPU count)";
            match &ctx.node_cpus {
                Some(cpus) => {
                    settings.push(common::cpu_dependent(
                        cpus.clone(),
                        what,
                        Some(words[i].span),
                    ));
                    (add_beat(cpus.clone()), None)
                }
                None => {
                    settings.push(common::cpu_dependent(
                        Fact::default(1, "Celery concurrency default: the CPU count"),
                        what,
                        None,
                    ));
                    (
                        Fact::default(1, "Celery concurrency default: the CPU count"),
                        Some((
                            words[i].span,
                            "celery worker has no `--concurrency`, so it forks one child per CPU of the node; set `-c N` or declare `nodes: {cpus: N}` in poolguard.yaml".to_string(),
                        )),
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::test::Fx;
    use super::*;

    fn pool(fx: &Fx) -> Pool {
        detect(&fx.ctx()).expect("recognised as Python")
    }

    #[test]
    fn gunicorn_workers_from_args_cmd_args_and_web_concurrency() {
        let fx = Fx::new()
            .env("WEB_CONCURRENCY", "2")
            .env("GUNICORN_CMD_ARGS", "--workers=3 --threads 4")
            .args(&["gunicorn", "-w", "5", "app:app"]);
        let p = pool(&fx);
        assert_eq!(
            (p.processes.value, fx.origin(&p.processes).as_str()),
            (5, "5")
        );
        let t = p
            .settings
            .iter()
            .find(|s| s.kind == SettingKind::Concurrency)
            .unwrap();
        assert_eq!(t.value.value, 4);

        let fx = Fx::new()
            .env("WEB_CONCURRENCY", "2")
            .env("GUNICORN_CMD_ARGS", "--workers=3")
            .args(&["gunicorn", "app:app"]);
        assert_eq!(pool(&fx).processes.value, 3);
        let fx = Fx::new()
            .env("WEB_CONCURRENCY", "2")
            .args(&["gunicorn", "app:app"]);
        assert_eq!(pool(&fx).processes.value, 2);
        let fx = Fx::new().args(&["gunicorn", "app:app"]);
        assert_eq!(pool(&fx).processes.value, 1);
        // GUNICORN_CMD_ARGS alone (image CMD runs gunicorn).
        let fx = Fx::new().env("GUNICORN_CMD_ARGS", "-w 6");
        assert_eq!(pool(&fx).processes.value, 6);
    }

    #[test]
    fn uvicorn_workers() {
        let fx = Fx::new().args(&["uvicorn", "main:app", "--workers", "4"]);
        assert_eq!(pool(&fx).processes.value, 4);
        let fx = Fx::new()
            .env("WEB_CONCURRENCY", "3")
            .args(&["uvicorn", "main:app"]);
        assert_eq!(pool(&fx).processes.value, 3);
    }

    #[test]
    fn engine_from_config_keys_in_mounted_files() {
        // Nested in an app's settings.yaml, placeholders resolved from the env: 5 + 20.
        let fx = Fx::new()
            .env("DB_POOL_SIZE", "5")
            .env("DATABASE_URL", "postgres://db/x")
            .file(
                "settings.yaml",
                "database:\n  url: ${DATABASE_URL}\n  sqlalchemy:\n    pool_size: ${DB_POOL_SIZE}\n    max_overflow: 20\n",
            );
        let p = pool(&fx);
        let f = p.pool_max.unwrap();
        assert_eq!((f.value, fx.origin(&f).as_str()), (25, "5"));
        assert_eq!(p.processes.value, 1);

        // Dotted, Pyramid/Alembic style; the file outranks DB_POOL_SIZE; overflow defaults.
        let fx = Fx::new().env("DB_POOL_SIZE", "50").file(
            "production.ini",
            "[app:main]\nsqlalchemy.url = postgresql://db/x\nsqlalchemy.pool_size = 7\n",
        );
        let f = pool(&fx).pool_max.unwrap();
        assert_eq!((f.value, fx.origin(&f).as_str()), (17, "7"));

        // A placeholder the repository cannot resolve is unknown, located at the key.
        let fx = Fx::new().file(
            "settings.yaml",
            "sqlalchemy:\n  pool_size: ${POOL}\n  max_overflow: 0\n",
        );
        let p = pool(&fx);
        assert!(p.pool_max.is_none());
        assert_eq!(fx.text(p.unknown.unwrap().0), "${POOL}");

        // Only the engine_from_config names count: `my_pool_size` is not `pool_size`.
        let fx = Fx::new()
            .args(&["gunicorn", "app:app"])
            .file("settings.yaml", "db:\n  my_pool_size: 9\n");
        assert!(pool(&fx).pool_max.is_none());
    }

    #[test]
    fn pool_only_when_declared_or_sqlalchemy_evident() {
        let fx = Fx::new()
            .env("DB_POOL_SIZE", "5")
            .env("DB_MAX_OVERFLOW", "5")
            .args(&["gunicorn", "-w", "2", "app:app"]);
        let p = pool(&fx);
        let f = p.pool_max.unwrap();
        assert_eq!((f.value, fx.origin(&f).as_str()), (10, "5"));

        // Nothing declared and nothing says SQLAlchemy: unknown, with the fix in the reason.
        let fx = Fx::new()
            .env("DATABASE_URL", "postgres://db/x")
            .args(&["gunicorn", "-w", "2", "app:app"]);
        let p = pool(&fx);
        assert!(p.pool_max.is_none());
        assert_eq!(p.processes.value, 2);
        assert!(p.unknown.unwrap().1.contains("poolguard.dev/pool-max"));

        // DB_POOL_SIZE alone without SQLAlchemy evidence: the overflow is unknown.
        let fx = Fx::new()
            .env("DB_POOL_SIZE", "5")
            .args(&["gunicorn", "app:app"]);
        assert!(pool(&fx).pool_max.is_none());

        // SQLAlchemy evident: defaults fill in.
        let fx = Fx::new()
            .env("DATABASE_URL", "postgresql+psycopg2://db/x")
            .args(&["gunicorn", "app:app"]);
        let f = pool(&fx).pool_max.unwrap();
        assert_eq!(f.value, 15);
        assert!(f.span().is_none());
        let fx = Fx::new()
            .env("SQLALCHEMY_POOL_SIZE", "8")
            .args(&["python", "app.py"]);
        assert_eq!(pool(&fx).pool_max.unwrap().value, 18);
    }

    #[test]
    fn unlimited_overflow_is_unbounded() {
        let fx = Fx::new()
            .env("SQLALCHEMY_POOL_SIZE", "5")
            .env("SQLALCHEMY_MAX_OVERFLOW", "-1")
            .args(&["gunicorn", "app:app"]);
        let p = pool(&fx);
        assert!(p.pool_max.is_none());
        assert!(p.settings.iter().any(|s| s.kind == SettingKind::Unbounded));
    }

    #[test]
    fn celery_concurrency_pools_and_cpu_default() {
        let fx = Fx::new()
            .env("SQLALCHEMY_POOL_SIZE", "2")
            .env("SQLALCHEMY_MAX_OVERFLOW", "0")
            .args(&["celery", "-A", "proj", "worker", "-c", "8", "-B"]);
        let p = pool(&fx);
        assert_eq!(p.processes.value, 9);
        assert_eq!(p.pool_max.unwrap().value, 2);

        let fx = Fx::new().env("SQLALCHEMY_POOL_SIZE", "2").args(&[
            "celery",
            "-A",
            "proj",
            "worker",
            "--pool=threads",
            "--concurrency=20",
        ]);
        let p = pool(&fx);
        assert_eq!(p.processes.value, 1);
        assert!(
            p.settings
                .iter()
                .any(|s| s.kind == SettingKind::Concurrency && s.value.value == 20)
        );

        let fx = Fx::new()
            .env("SQLALCHEMY_POOL_SIZE", "2")
            .args(&["celery", "-A", "proj", "worker"]);
        let p = pool(&fx);
        assert!(p.pool_max.is_none(), "processes depend on the CPU count");
        assert!(
            p.settings
                .iter()
                .any(|s| s.kind == SettingKind::CpuDependentDefault)
        );
        let fx = fx.cpus(8);
        let p = pool(&fx);
        assert_eq!((p.processes.value, p.pool_max.unwrap().value), (8, 12));

        let fx = Fx::new()
            .args(&["celery", "-A", "proj", "beat"])
            .env("SQLALCHEMY_POOL_SIZE", "2");
        assert_eq!(pool(&fx).processes.value, 1);
    }

    #[test]
    fn not_python_without_evidence() {
        let fx = Fx::new()
            .env("DATABASE_URL", "postgres://db/x")
            .args(&["/ledger-sync", "--listen=:8080"]);
        assert!(detect(&fx.ctx()).is_none());
    }
}
