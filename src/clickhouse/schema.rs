//! The tables, as idempotent `CREATE … IF NOT EXISTS` statements, and the schema
//! version table that says which migrations a database has had.
//!
//! Single server: one MergeTree table per kind of row. Cluster (`--clickhouse-cluster
//! NAME`): each is a `Replicated*MergeTree` table `<name>_local` on every node plus a
//! `Distributed` table `<name>` over it, sharded by `cityHash64(trace_id)` so a
//! trace's spans live on one shard; all created `ON CLUSTER`. Queries and inserts
//! always name `<name>`. Statements differ between server versions only through
//! `Profile`.
//!
//! - `spans`: one row per span for search, ordered (service, operation, start):
//!   trace and span ids, parent id (dependencies), kind, start, duration, and
//!   `terms`, the span's searchable `key\x1fvalue` strings (see `rows::terms`).
//!   Retention (TTL, or dropping hour partitions) goes by `ingest_time`, when the span was written, as
//!   the embedded store drops whole ingest hours: old timestamps are kept as long.
//! - `trace_spans`: the encoded span (`codec`), ordered by trace id: get-trace.
//! - `operations`: (service, operation, kind), deduplicated by ReplacingMergeTree.
//! - `sampling`: adaptive sampling's probabilities, newest row per operation wins.
//! - `tracery_schema`: the schema version applied (per node; not replicated).

use std::time::Duration;

use super::profile::Profile;

/// The schema this build writes and reads. Bump it with a migration in
/// `migrations` when a table changes.
pub const SCHEMA_VERSION: u32 = 1;

/// The tables a working database has (as queries name them).
pub(super) const TABLES: [&str; 4] = ["spans", "trace_spans", "operations", "sampling"];

/// Where the tables live and in which dialect they are written.
#[derive(Debug, Clone)]
pub struct Layout {
    pub database: String,
    pub cluster: Option<String>,
    pub profile: Profile,
    /// `None` keeps data forever.
    pub retention: Option<Duration>,
}

struct Table {
    name: &'static str,
    columns: String,
    engine: &'static str,
    engine_args: &'static str,
    partition_by: Option<String>,
    order_by: &'static str,
    ttl_column: Option<&'static str>,
    shard_key: &'static str,
}

impl Layout {
    /// The table that queries and inserts name: the Distributed one in a cluster.
    pub fn table(&self, name: &str) -> String {
        format!("`{}`.`{name}`", self.database)
    }

    /// The table that holds the rows: `<name>_local` in a cluster.
    fn local_name(&self, name: &str) -> String {
        match self.cluster {
            Some(_) => format!("{name}_local"),
            None => name.to_owned(),
        }
    }

    fn on_cluster(&self) -> String {
        self.cluster
            .as_ref()
            .map_or_else(String::new, |cluster| format!(" ON CLUSTER `{cluster}`"))
    }

    /// Every statement that creates what is missing, in order.
    pub fn create_statements(&self) -> Vec<String> {
        let mut statements = vec![format!(
            "CREATE DATABASE IF NOT EXISTS `{}`{}",
            self.database,
            self.on_cluster()
        )];
        statements.push(format!(
            "CREATE TABLE IF NOT EXISTS {}{} (\n    version UInt32,\n    profile String,\n    applied DateTime\n) ENGINE = MergeTree() ORDER BY version",
            self.table("tracery_schema"),
            self.on_cluster()
        ));
        for table in self.tables() {
            statements.extend(self.create_table(&table));
        }
        statements
    }

    /// The tables (as they hold rows: `<name>_local` in a cluster) whose retention
    /// drops whole hour partitions: every table with a retention column on a
    /// profile without TTL, none otherwise.
    pub fn hour_partitioned_tables(&self) -> Vec<String> {
        if !self.profile.drops_hours() {
            return Vec::new();
        }
        self.tables()
            .iter()
            .filter(|table| table.ttl_column.is_some())
            .map(|table| self.local_name(table.name))
            .collect()
    }

    /// Drops the partition of the hour starting at `hour_start_unix_secs` from a
    /// table of `hour_partitioned_tables` (on every shard in a cluster); a no-op
    /// for an hour the table doesn't hold.
    pub fn drop_hour(&self, local_table: &str, hour_start_unix_secs: u64) -> String {
        format!(
            "ALTER TABLE `{}`.`{local_table}`{} DROP PARTITION ID '{hour_start_unix_secs}'",
            self.database,
            self.on_cluster(),
        )
    }

    fn create_table(&self, table: &Table) -> Vec<String> {
        let local = format!("`{}`.`{}`", self.database, self.local_name(table.name));
        let engine = match &self.cluster {
            Some(_) => {
                let path = format!(
                    "'/clickhouse/tables/{{shard}}/{}/{}', '{{replica}}'",
                    self.database,
                    self.local_name(table.name)
                );
                let args = if table.engine_args.is_empty() {
                    path
                } else {
                    format!("{path}, {}", table.engine_args)
                };
                format!("Replicated{}({args})", table.engine)
            }
            None => format!("{}({})", table.engine, table.engine_args),
        };
        let partition = table
            .partition_by
            .as_ref()
            .map_or_else(String::new, |key| format!(" PARTITION BY {key}"));
        let ttl = table.ttl_column.map_or_else(String::new, |column| {
            self.profile.ttl(column, self.retention)
        });
        let mut statements = vec![format!(
            "CREATE TABLE IF NOT EXISTS {local}{} (\n{}\n) ENGINE = {engine}{partition} ORDER BY {}{ttl}",
            self.on_cluster(),
            table.columns,
            table.order_by,
        )];
        if let Some(cluster) = &self.cluster {
            statements.push(format!(
                "CREATE TABLE IF NOT EXISTS {}{} AS {local} ENGINE = Distributed(`{cluster}`, `{}`, `{}`, {})",
                self.table(table.name),
                self.on_cluster(),
                self.database,
                self.local_name(table.name),
                table.shard_key,
            ));
        }
        statements
    }

    fn tables(&self) -> Vec<Table> {
        let profile = self.profile;
        let name = profile.name_type();
        vec![
            Table {
                name: "spans",
                columns: format!(
                    "    trace_id FixedString(16),\n    span_id FixedString(8),\n    parent_span_id FixedString(8),\n    service {name},\n    operation {name},\n    kind UInt8,\n    start_unix_nanos UInt64{},\n    start_time DateTime{},\n    duration_nanos UInt64{},\n    terms Array(String){},\n    ingest_time DateTime{}{}",
                    profile.codec("Delta, ZSTD(1)"),
                    profile.codec("Delta, ZSTD(1)"),
                    profile.codec("ZSTD(1)"),
                    profile.codec("ZSTD(3)"),
                    profile.codec("Delta, ZSTD(1)"),
                    profile.skip_indexes(&[("trace_id_idx", "trace_id"), ("terms_idx", "terms")]),
                ),
                engine: "MergeTree",
                engine_args: "",
                partition_by: profile.partition_by(Some("toDate(start_time)"), "ingest_time"),
                order_by: "(service, operation, start_unix_nanos)",
                ttl_column: Some("ingest_time"),
                shard_key: "cityHash64(trace_id)",
            },
            Table {
                name: "trace_spans",
                columns: format!(
                    "    trace_id FixedString(16),\n    start_unix_nanos UInt64{},\n    start_time DateTime{},\n    span String{},\n    ingest_time DateTime{}",
                    profile.codec("Delta, ZSTD(1)"),
                    profile.codec("Delta, ZSTD(1)"),
                    profile.codec("ZSTD(3)"),
                    profile.codec("Delta, ZSTD(1)"),
                ),
                engine: "MergeTree",
                engine_args: "",
                partition_by: profile.partition_by(Some("toDate(start_time)"), "ingest_time"),
                order_by: "(trace_id, start_unix_nanos)",
                ttl_column: Some("ingest_time"),
                shard_key: "cityHash64(trace_id)",
            },
            Table {
                name: "operations",
                columns: format!(
                    "    service {name},\n    operation {name},\n    kind UInt8,\n    last_seen DateTime"
                ),
                engine: "ReplacingMergeTree",
                engine_args: "last_seen",
                partition_by: profile.partition_by(None, "last_seen"),
                order_by: "(service, operation, kind)",
                ttl_column: Some("last_seen"),
                shard_key: "cityHash64(service)",
            },
            Table {
                name: "sampling",
                columns: "    service String,\n    operation String,\n    probability Float64,\n    updated_unix_nanos UInt64".to_owned(),
                engine: "ReplacingMergeTree",
                engine_args: "updated_unix_nanos",
                partition_by: None,
                order_by: "(service, operation)",
                ttl_column: None,
                shard_key: "cityHash64(service)",
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(cluster: Option<&str>, profile: Profile) -> Layout {
        Layout {
            database: "tracery".to_owned(),
            cluster: cluster.map(str::to_owned),
            profile,
            retention: Some(Duration::from_secs(3600)),
        }
    }

    #[test]
    fn single_server_tables_are_plain_merge_trees() {
        let statements = layout(None, Profile::Compat).create_statements();
        assert!(statements.iter().all(|s| s.contains("IF NOT EXISTS")));
        assert!(statements.iter().all(|s| !s.contains("ON CLUSTER")));
        assert!(statements.iter().all(|s| !s.contains("Replicated")));
        assert!(statements.iter().all(|s| !s.contains("TTL")));
        assert!(statements.iter().all(|s| !s.contains("CODEC")));
        assert_eq!(statements.len(), 2 + TABLES.len());
    }

    #[test]
    fn cluster_tables_are_replicated_behind_distributed_ones() {
        let statements = layout(Some("two_by_two"), Profile::Current).create_statements();
        assert!(statements
            .iter()
            .all(|s| s.contains("ON CLUSTER `two_by_two`")));
        assert_eq!(statements.len(), 2 + 2 * TABLES.len());
        let spans_local = statements
            .iter()
            .find(|s| s.contains("`tracery`.`spans_local` ON CLUSTER"))
            .unwrap();
        assert!(spans_local.contains(
            "ReplicatedMergeTree('/clickhouse/tables/{shard}/tracery/spans_local', '{replica}')"
        ));
        assert!(spans_local.contains("TTL ingest_time + INTERVAL 3600 SECOND"));
        assert!(spans_local.contains("bloom_filter"));
        assert!(statements.iter().any(|s| s.contains(
            "Distributed(`two_by_two`, `tracery`, `spans_local`, cityHash64(trace_id))"
        )));
        assert!(statements.iter().any(|s| s.contains(
            "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/tracery/operations_local', '{replica}', last_seen)"
        )));
    }

    #[test]
    fn retention_drops_hour_partitions_only_without_ttl() {
        assert!(layout(None, Profile::Current)
            .hour_partitioned_tables()
            .is_empty());
        let compat = layout(Some("c"), Profile::Compat);
        assert_eq!(
            compat.hour_partitioned_tables(),
            ["spans_local", "trace_spans_local", "operations_local"]
        );
        assert_eq!(
            compat.drop_hour("spans_local", 7200),
            "ALTER TABLE `tracery`.`spans_local` ON CLUSTER `c` DROP PARTITION ID '7200'"
        );
        let statements = compat.create_statements();
        let spans = statements
            .iter()
            .find(|s| s.contains("`spans_local` ON CLUSTER"))
            .unwrap();
        assert!(
            spans.contains("PARTITION BY toStartOfHour(ingest_time)"),
            "{spans}"
        );
    }
}
