//! The one place where the SQL differs between ClickHouse versions.
//!
//! `Current` is the production schema for a current server: `LowCardinality`
//! strings, column codecs, bloom-filter skip indexes and TTL retention. `Compat` is
//! for Debian's clickhouse-server 18.16 (the only server these machines can install,
//! and what the multi-node tests run on), which has none of those: plain strings,
//! the default LZ4, no skip indexes, and retention by dropping hour
//! partitions. The profile is chosen from `SELECT version()`; every other
//! module asks this one for the fragments that differ.

use std::time::Duration;

/// Which dialect of DDL the server understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// ClickHouse 20.3 or newer (codecs, skip indexes, TTL and LowCardinality are all
    /// there without experimental settings from then on).
    Current,
    /// Older servers, Debian's 18.16 among them.
    Compat,
}

/// The first version whose features `Current` relies on.
const CURRENT_SINCE: (u32, u32) = (20, 3);

impl Profile {
    /// The profile for a server that answered `SELECT version()` with `version`
    /// (`"18.16.1"`, `"24.8.4.13"`); an unreadable version gets `Compat`, which
    /// every server understands.
    pub fn for_version(version: &str) -> Profile {
        let mut parts = version.trim().split('.').map(|part| part.parse::<u32>());
        match (parts.next(), parts.next()) {
            (Some(Ok(major)), Some(Ok(minor))) if (major, minor) >= CURRENT_SINCE => {
                Profile::Current
            }
            _ => Profile::Compat,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Current => "current",
            Profile::Compat => "compat",
        }
    }

    /// The type of a low-cardinality string column (service and operation names).
    pub(super) fn name_type(self) -> &'static str {
        match self {
            Profile::Current => "LowCardinality(String)",
            Profile::Compat => "String",
        }
    }

    /// A column codec clause (with a leading space), or nothing where codecs don't exist.
    pub(super) fn codec(self, codec: &str) -> String {
        match self {
            Profile::Current => format!(" CODEC({codec})"),
            Profile::Compat => String::new(),
        }
    }

    /// Skip-index lines for the column list (each with a leading `,\n`).
    pub(super) fn skip_indexes(self, indexes: &[(&str, &str)]) -> String {
        match self {
            Profile::Current => indexes
                .iter()
                .map(|(name, expression)| {
                    format!(
                        ",\n    INDEX {name} {expression} TYPE bloom_filter(0.01) GRANULARITY 4"
                    )
                })
                .collect(),
            Profile::Compat => String::new(),
        }
    }

    /// A table's TTL clause (with a leading space) on DateTime column `column`, or
    /// nothing: without TTL, retention drops hour partitions (`drops_hours`).
    pub(super) fn ttl(self, column: &str, retention: Option<Duration>) -> String {
        match (self, retention) {
            (Profile::Current, Some(retention)) => {
                format!(" TTL {column} + INTERVAL {} SECOND", retention.as_secs())
            }
            _ => String::new(),
        }
    }

    /// The partition key of a table whose retention goes by DateTime column
    /// `column`: with TTL, `current` (or none); without, the hour of `column`, so
    /// retention drops whole hours with `DROP PARTITION` (`drops_hours`).
    pub(super) fn partition_by(self, current: Option<&str>, column: &str) -> Option<String> {
        match self {
            Profile::Current => current.map(str::to_owned),
            Profile::Compat => Some(format!("toStartOfHour({column})")),
        }
    }

    /// Whether retention drops hour partitions itself (no TTL). A partition drop,
    /// unlike `ALTER TABLE … DELETE`, rewrites nothing and is safe on old replicated
    /// servers (18.16's delete mutations crash replicas).
    pub(super) fn drops_hours(self) -> bool {
        self == Profile::Compat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(version: &str, expected: Profile) {
        assert_eq!(Profile::for_version(version), expected, "{version}");
    }

    #[test]
    fn profile_follows_the_server_version() {
        check("18.16.1", Profile::Compat);
        check("19.17.4.11", Profile::Compat);
        check("20.3.1", Profile::Current);
        check("24.8.4.13", Profile::Current);
        check("25.10.1.1-testing", Profile::Current);
        check("garbage", Profile::Compat);
        check("", Profile::Compat);
    }

    #[test]
    fn compat_leaves_out_what_old_servers_lack() {
        let compat = Profile::Compat;
        assert_eq!(compat.name_type(), "String");
        assert_eq!(compat.codec("ZSTD(3)"), "");
        assert_eq!(compat.skip_indexes(&[("i", "terms")]), "");
        assert_eq!(compat.ttl("start_time", Some(Duration::from_secs(60))), "");
        assert!(compat.drops_hours());
        let current = Profile::Current;
        assert_eq!(current.codec("ZSTD(3)"), " CODEC(ZSTD(3))");
        assert!(current
            .ttl("t", Some(Duration::from_secs(60)))
            .contains("INTERVAL 60 SECOND"));
        assert!(!current.drops_hours());
    }
}
