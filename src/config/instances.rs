//! `max_connections` of managed databases by instance class (research/domain.md §3.3).
//!
//! Documented per-class values are used as they are; otherwise the provider's formula over the
//! class's memory, rounded down to 95 % because `DBInstanceClassMemory` is what is left after
//! the OS and RDS reserve their share — and the result says it is an estimate.

use super::Engine;

/// A managed database's connection limit and where it comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct Managed {
    /// `max_connections`.
    pub max_connections: i64,
    /// Slots the provider keeps for itself (Azure: 15), beyond superuser reserves.
    pub provider_reserved: i64,
    /// Where the number comes from, for findings.
    pub source: &'static str,
}

/// Aurora PostgreSQL documented values (AWS Aurora user guide, "Maximum connections").
const AURORA_PG: &[(&str, i64)] = &[
    ("db.t3.medium", 420),
    ("db.t4g.medium", 405),
    ("db.t3.large", 844),
    ("db.t4g.large", 844),
    ("db.r5.large", 1600),
    ("db.r6g.large", 1722),
    ("db.r5.xlarge", 3300),
    ("db.r6g.xlarge", 3479),
    ("db.x2g.large", 3479),
];

/// Aurora MySQL documented values.
const AURORA_MYSQL: &[(&str, i64)] = &[
    ("db.t3.small", 45),
    ("db.t3.medium", 90),
    ("db.r5.large", 1000),
    ("db.r6g.large", 1000),
    ("db.r5.xlarge", 2000),
    ("db.r6g.xlarge", 2000),
];

/// Azure Database for PostgreSQL flexible server, per SKU (15 connections reserved).
const AZURE_PG: &[(&str, i64)] = &[
    ("b1ms", 50),
    ("b2s", 429),
    ("b2ms", 859),
    ("d2s_v3", 859),
    ("d2ds_v4", 859),
    ("d2ds_v5", 859),
    ("b4ms", 1718),
    ("d4s_v3", 1718),
    ("d4ds_v4", 1718),
    ("d4ds_v5", 1718),
    ("e2s_v3", 1718),
    ("e2ds_v4", 1718),
    ("e2ds_v5", 1718),
    ("b8ms", 3437),
    ("d8s_v3", 3437),
    ("d8ds_v4", 3437),
    ("d8ds_v5", 3437),
    ("e4s_v3", 3437),
    ("e4ds_v4", 3437),
    ("e4ds_v5", 3437),
];

/// Memory in GiB of an AWS class: burstable sizes by name, others by vCPU × GiB per vCPU.
fn aws_memory_gib(class: &str) -> Option<f64> {
    let rest = class.strip_prefix("db.")?;
    let (family, size) = rest.split_once('.')?;
    if family.starts_with('t') {
        return Some(match size {
            "micro" => 1.0,
            "small" => 2.0,
            "medium" => 4.0,
            "large" => 8.0,
            "xlarge" => 16.0,
            "2xlarge" => 32.0,
            _ => return None,
        });
    }
    let vcpus = match size {
        "large" => 2.0,
        "xlarge" => 4.0,
        s => {
            let n: f64 = s.strip_suffix("xlarge")?.parse().ok()?;
            n * 4.0
        }
    };
    let per_vcpu = match family.chars().next()? {
        'm' => 4.0,
        'r' => 8.0,
        'x' => 16.0,
        'c' => 2.0,
        _ => return None,
    };
    Some(vcpus * per_vcpu)
}

/// Looks up a class. `engine` is postgres or mysql; `aurora` picks the Aurora tables.
pub fn lookup(class: &str, engine: Engine, aurora: bool) -> Option<Managed> {
    let c = class.trim().to_ascii_lowercase();
    if !c.starts_with("db.") {
        let sku = c
            .trim_start_matches("standard_")
            .trim_start_matches("gp_")
            .trim_start_matches("mo_");
        if engine == Engine::Postgres
            && let Some((_, v)) = AZURE_PG.iter().find(|(k, _)| *k == sku)
        {
            return Some(Managed {
                max_connections: *v,
                provider_reserved: 15,
                source: "Azure Database for PostgreSQL flexible server: documented max_connections for this SKU (15 reserved)",
            });
        }
        return None;
    }
    let table = match (engine, aurora) {
        (Engine::Postgres, true) => AURORA_PG,
        (Engine::Mysql, true) => AURORA_MYSQL,
        _ => &[],
    };
    if let Some((_, v)) = table.iter().find(|(k, _)| *k == c) {
        return Some(Managed {
            max_connections: *v,
            provider_reserved: 0,
            source: if engine == Engine::Postgres {
                "AWS Aurora PostgreSQL: documented max_connections for this instance class"
            } else {
                "AWS Aurora MySQL: documented max_connections for this instance class"
            },
        });
    }
    let bytes = aws_memory_gib(&c)? * 1024.0 * 1024.0 * 1024.0;
    let (nominal, source) = match engine {
        Engine::Postgres => (
            (bytes / 9_531_392.0).min(5000.0),
            "estimated: AWS RDS PostgreSQL LEAST(DBInstanceClassMemory/9531392, 5000), at 95 % of the class's nominal memory",
        ),
        Engine::Mysql => (
            bytes / 12_582_880.0,
            "estimated: AWS RDS MySQL DBInstanceClassMemory/12582880, at 95 % of the class's nominal memory",
        ),
    };
    let estimate = if nominal >= 5000.0 {
        5000.0
    } else {
        (nominal * 0.95).floor()
    };
    Some(Managed {
        max_connections: estimate as i64,
        provider_reserved: 0,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_values_win() {
        assert_eq!(
            lookup("db.r6g.large", Engine::Postgres, true)
                .unwrap()
                .max_connections,
            1722
        );
        assert_eq!(
            lookup("Standard_B2s", Engine::Postgres, false)
                .unwrap()
                .max_connections,
            429
        );
        assert_eq!(
            lookup("Standard_B2s", Engine::Postgres, false)
                .unwrap()
                .provider_reserved,
            15
        );
    }

    #[test]
    fn formulas_are_estimates_below_nominal() {
        // 16 GiB: nominal 1802, estimated 95 % = 1712.
        let m = lookup("db.r6g.large", Engine::Postgres, false).unwrap();
        assert_eq!(m.max_connections, 1712);
        assert!(m.source.starts_with("estimated"));
        // 8 GiB RDS MySQL: nominal 682, 95 % = 648.
        assert_eq!(
            lookup("db.m5.large", Engine::Mysql, false)
                .unwrap()
                .max_connections,
            648
        );
        // Large classes hit the 5000 cap.
        assert_eq!(
            lookup("db.r6g.8xlarge", Engine::Postgres, false)
                .unwrap()
                .max_connections,
            5000
        );
        assert_eq!(lookup("db.z9.large", Engine::Postgres, false), None);
    }
}
