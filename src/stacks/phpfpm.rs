//! PHP-FPM: PHP does not pool, so each FPM child holds at most one connection per DSN; the
//! processes are the children, `pm.max_children` summed over the FPM pools (domain.md §1.8,
//! §2). Pool files (`www.conf`, `*.conf` under `php-fpm.d`) are read when mounted or attached;
//! sections with the same name in several files are one pool, later files (in the include's
//! alphabetical order) overriding earlier keys. `${VAR}` in values is the environment
//! (php.ini syntax, https://www.php.net/manual/en/configuration.file.php). When PHP-FPM is
//! evident but no pool file is visible, the stock `www.conf` applies: `pm.max_children = 5`
//! (domain.md §2 [D]).

use super::common;
use super::{Ctx, Pool, Stack};
use crate::model::mounts::ConfigFile;
use crate::parse::{Format, Node};
use crate::report::Fact;
use crate::source::Span;

/// The stack entry.
pub static STACK: Stack = Stack {
    name: "php-fpm",
    detect,
};

const STOCK_MAX_CHILDREN: i64 = 5;

/// One FPM pool: its name and `pm.max_children` (value node), merged over files.
struct FpmPool<'a> {
    name: String,
    max_children: Option<&'a Node>,
    /// Where the section is declared, for findings about a missing value.
    span: Span,
}

fn is_pool_file(f: &ConfigFile) -> bool {
    if f.format != Format::Ini {
        return false;
    }
    let named = f.name == "www.conf" || f.path.contains("php-fpm");
    named
        || pools_in(f)
            .iter()
            .any(|(_, n)| n.get("pm").is_some() || n.get("pm.max_children").is_some())
}

/// `[section]` maps of an INI file, except the global one.
fn pools_in(f: &ConfigFile) -> Vec<(&Node, &Node)> {
    f.docs
        .iter()
        .filter_map(Node::as_map)
        .flatten()
        .filter(|(k, v)| v.as_map().is_some() && k.as_str() != Some("global"))
        .map(|(k, v)| (k, v))
        .collect()
}

fn detect(ctx: &Ctx) -> Option<Pool> {
    let mut files: Vec<&ConfigFile> = ctx.files.iter().filter(|f| is_pool_file(f)).collect();
    let words = common::words(ctx.args);
    let image = ctx
        .image
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let evident = (image.contains("php") && image.contains("fpm"))
        || words
            .iter()
            .any(|w| common::base(w.text).starts_with("php-fpm"));
    if files.is_empty() && !evident {
        return None;
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut pools: Vec<FpmPool> = Vec::new();
    for f in &files {
        for (k, v) in pools_in(f) {
            let name = k.as_str().unwrap_or("").to_string();
            let mc = v.get("pm.max_children");
            match pools.iter_mut().find(|p| p.name == name) {
                Some(p) => {
                    if mc.is_some() {
                        p.max_children = mc;
                    }
                }
                None => pools.push(FpmPool {
                    name,
                    max_children: mc,
                    span: k.span,
                }),
            }
        }
    }
    let stock_visible = files.iter().any(|f| f.name == "www.conf");
    let lookup = |n: &str| common::env_str(ctx, n).map(|(v, s)| (v.to_string(), s));
    let mut children: Vec<Fact> = Vec::new();
    let mut unknown = None;
    for p in &pools {
        match p.max_children {
            Some(node) => {
                let raw = node.as_str().unwrap_or("");
                let (text, winner) = common::placeholders(raw, &lookup);
                match common::int_at(
                    &text,
                    winner.unwrap_or(node.span),
                    &format!("pm.max_children of [{}]", p.name),
                ) {
                    Ok(f) => children.push(f),
                    Err(e) => {
                        unknown.get_or_insert(e);
                    }
                }
            }
            // The stock www.conf still sets it when only an override file is mounted.
            None if p.name == "www" && !stock_visible => children.push(Fact::default(
                STOCK_MAX_CHILDREN,
                "php-fpm stock www.conf pm.max_children = 5",
            )),
            None => {
                unknown.get_or_insert((
                    p.span,
                    format!("FPM pool [{}] sets no pm.max_children", p.name),
                ));
            }
        }
    }
    if pools.is_empty() {
        children.push(Fact::default(
            STOCK_MAX_CHILDREN,
            "php-fpm stock www.conf pm.max_children = 5",
        ));
    }
    let processes = if children.len() == 1 {
        children.remove(0)
    } else {
        let total: i64 = children.iter().map(|f| f.value).sum();
        match children.iter().find_map(Fact::span) {
            Some(s) => Fact::at(total.max(1), s),
            None => Fact::default(total.max(1), "php-fpm pools' pm.max_children, summed"),
        }
    };
    Some(Pool {
        stack: "php-fpm",
        pool_max: unknown
            .is_none()
            .then(|| Fact::default(1, "PHP opens one connection per FPM child (no pooling)")),
        processes,
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
    fn max_children_from_a_mounted_pool_file() {
        let conf =
            "[www]\nuser = www-data\npm = dynamic\npm.max_children = 40\npm.start_servers = 4\n";
        let fx = Fx::new()
            .image("php:8.3-fpm")
            .file("/usr/local/etc/php-fpm.d/zz-pool.conf", conf);
        let p = detect(&fx.ctx()).unwrap();
        assert_eq!(
            (p.processes.value, fx.origin(&p.processes).as_str()),
            (40, "40")
        );
        assert_eq!(p.pool_max.unwrap().value, 1);
    }

    #[test]
    fn pools_sum_and_later_files_override() {
        let a = "[www]\npm = static\npm.max_children = 10\n[admin]\npm = ondemand\npm.max_children = 3\n";
        let b = "[www]\npm.max_children = ${FPM_CHILDREN}\n";
        let fx = Fx::new()
            .env("FPM_CHILDREN", "12")
            .file("/usr/local/etc/php-fpm.d/www.conf", a)
            .file("/usr/local/etc/php-fpm.d/zz-docker.conf", b);
        let p = detect(&fx.ctx()).unwrap();
        assert_eq!(p.processes.value, 15);
    }

    #[test]
    fn stock_default_when_fpm_is_evident_without_a_pool_file() {
        let fx = Fx::new().image("registry.example.com/php:8.2-fpm-alpine");
        let p = detect(&fx.ctx()).unwrap();
        assert_eq!(p.processes.value, 5);
        assert!(p.processes.span().is_none());
        let fx = Fx::new()
            .image("nginx:1.27")
            .file("default.conf", "[x]\na = 1\n");
        assert!(detect(&fx.ctx()).is_none());
        // A pool file that sets no max_children, replacing the stock www.conf.
        let fx = Fx::new()
            .image("php:8.3-fpm")
            .file("/usr/local/etc/php-fpm.d/www.conf", "[www]\npm = dynamic\n");
        assert!(detect(&fx.ctx()).unwrap().pool_max.is_none());
    }
}
