//! Monthly range partitions of the GMV records and their daily roll-ups, on PostgreSQL only.
//!
//! Each table is partitioned by its local day into one partition per calendar month
//! (`gmv_record_p202612` holds December 2026) and a default partition for any day no monthly
//! partition covers. The migration converts the tables and creates a partition for every month
//! that holds rows; the `partitions` job creates the months ahead and moves any month the
//! default partition has collected into a partition of its own. SQLite is not partitioned.
//!
//! A partitioned table can only enforce uniqueness on keys that contain the partition key, so
//! the uniqueness of `(merchant_id, external_id)` lives in the unpartitioned `gmv_record_key`.

use chrono::{Datelike, Months, NaiveDate};
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// A partitioned table: its name, the day column it is partitioned by, its primary key when
/// partitioned and when not, and its other indexes (name, columns).
pub struct Partitioned {
    pub table: &'static str,
    pub key: &'static str,
    pub primary_key: &'static str,
    pub plain_primary_key: &'static str,
    pub indexes: &'static [(&'static str, &'static str)],
    /// Unique indexes of the unpartitioned table that the partitioned one cannot carry.
    pub plain_unique: &'static [(&'static str, &'static str)],
    /// Whether `id` is drawn from a sequence.
    pub id_sequence: bool,
    /// How full PostgreSQL fills a page on insert (percent), for tables whose rows are updated
    /// in place: the room left lets an update that moves no indexed column stay on its page
    /// as a heap-only tuple, without touching the indexes. `None`: the default, 100.
    pub fillfactor: Option<u8>,
}

/// The roll-ups' fill factor: every ingested batch adds to rows it finds, and a roll-up's
/// indexed columns (its key and day) never change.
pub const ROLLUP_FILLFACTOR: u8 = 70;

impl Partitioned {
    /// ` WITH (fillfactor = …)` for a table or partition that holds rows, or nothing. (A
    /// partitioned parent holds none and takes no storage parameters.)
    pub fn storage(&self) -> String {
        self.fillfactor
            .map(|f| format!(" WITH (fillfactor = {f})"))
            .unwrap_or_default()
    }
}

/// The tables partitioned by month.
pub const TABLES: [Partitioned; 4] = [
    Partitioned {
        table: "gmv_record",
        key: "local_day",
        primary_key: "id, local_day",
        plain_primary_key: "id",
        indexes: &[("ix_gmv_record_merchant_time", "merchant_id, occurred_at")],
        plain_unique: &[("ux_gmv_record_external", "merchant_id, external_id")],
        id_sequence: true,
        fillfactor: None,
    },
    Partitioned {
        table: "gmv_daily_merchant",
        key: "day",
        primary_key: "merchant_id, day, channel",
        plain_primary_key: "merchant_id, day, channel",
        indexes: &[("ix_gmv_daily_merchant_day", "day")],
        plain_unique: &[],
        id_sequence: false,
        fillfactor: Some(ROLLUP_FILLFACTOR),
    },
    Partitioned {
        table: "gmv_daily_product",
        key: "day",
        primary_key: "merchant_id, product_id, day, channel",
        plain_primary_key: "merchant_id, product_id, day, channel",
        indexes: &[("ix_gmv_daily_product_day", "day")],
        plain_unique: &[],
        id_sequence: false,
        fillfactor: Some(ROLLUP_FILLFACTOR),
    },
    Partitioned {
        table: "gmv_daily_creator",
        key: "day",
        primary_key: "creator_id, merchant_id, day, channel",
        plain_primary_key: "creator_id, merchant_id, day, channel",
        indexes: &[("ix_gmv_daily_creator_day", "day")],
        plain_unique: &[],
        id_sequence: false,
        fillfactor: Some(ROLLUP_FILLFACTOR),
    },
];

/// The first day of `day`'s month.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The partition of `table` that holds `month`: `gmv_record_p202612`.
pub fn partition_name(table: &str, month: NaiveDate) -> String {
    format!("{table}_p{:04}{:02}", month.year(), month.month())
}

/// The default partition of `table`.
pub fn default_name(table: &str) -> String {
    format!("{table}_default")
}

fn next_month(month: NaiveDate) -> NaiveDate {
    month
        .checked_add_months(Months::new(1))
        .unwrap_or(NaiveDate::MAX)
}

/// The months from `first`'s through `last`'s, in order.
pub fn months(first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut m = month_of(first);
    while m <= last {
        out.push(m);
        let next = next_month(m);
        if next == m || next == NaiveDate::MAX {
            break;
        }
        m = next;
    }
    out
}

async fn exec<C: ConnectionTrait>(db: &C, sql: &str) -> Result<(), DbErr> {
    db.execute_unprepared(sql).await.map(|_| ())
}

async fn exists<C: ConnectionTrait>(db: &C, sql: &str, args: Vec<String>) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            args.into_iter().map(Into::into),
        ))
        .await?;
    match row {
        Some(r) => r.try_get::<bool>("", "yes"),
        None => Ok(false),
    }
}

/// Whether `table` is partitioned (never on SQLite).
pub async fn is_partitioned<C: ConnectionTrait>(db: &C, table: &str) -> Result<bool, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(false);
    }
    exists(
        db,
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid \
         WHERE c.oid = to_regclass($1)) AS yes",
        vec![table.to_string()],
    )
    .await
}

/// Sets `t`'s fill factor (or, with `set` false, resets it to the default) on every table that
/// holds its rows: each partition when `t` is partitioned, else `t` itself. Pages written
/// before keep their fill; PostgreSQL only.
pub async fn apply_fillfactor<C: ConnectionTrait>(
    db: &C,
    t: &Partitioned,
    set: bool,
) -> Result<(), DbErr> {
    let Some(f) = t.fillfactor else {
        return Ok(());
    };
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let holders: Vec<String> = if is_partitioned(db, t.table).await? {
        db.query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT CAST(inhrelid::regclass AS TEXT) FROM pg_inherits \
             WHERE inhparent = to_regclass($1)",
            [t.table.into()],
        ))
        .await?
        .iter()
        .map(|r| r.try_get_by_index::<String>(0))
        .collect::<Result<_, _>>()?
    } else {
        vec![format!("\"{}\"", t.table)]
    };
    let change = if set {
        format!("SET (fillfactor = {f})")
    } else {
        "RESET (fillfactor)".to_string()
    };
    for h in holders {
        exec(db, &format!("ALTER TABLE {h} {change}")).await?;
    }
    Ok(())
}

/// The months for which `t` holds rows, read from `relation` (the table or one partition).
async fn months_in<C: ConnectionTrait>(
    db: &C,
    relation: &str,
    key: &str,
) -> Result<Vec<NaiveDate>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT DISTINCT CAST(date_trunc('month', \"{key}\") AS date) AS month \
                 FROM \"{relation}\" ORDER BY 1"
            ),
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<NaiveDate>("", "month"))
        .collect()
}

/// Creates `t`'s partition for `month` unless it exists. The rows the default partition holds
/// for that month move into it in the same transaction as the caller's. Returns whether a
/// partition was created.
pub async fn ensure_month<C: ConnectionTrait>(
    db: &C,
    t: &Partitioned,
    month: NaiveDate,
) -> Result<bool, DbErr> {
    let month = month_of(month);
    let name = partition_name(t.table, month);
    if exists(
        db,
        "SELECT to_regclass($1) IS NOT NULL AS yes",
        vec![name.clone()],
    )
    .await?
    {
        return Ok(false);
    }
    let (table, key, default, with) = (t.table, t.key, default_name(t.table), t.storage());
    let (from, to) = (month, next_month(month));
    let bounds = format!("FOR VALUES FROM ('{from}') TO ('{to}')");
    let stranded = exists(
        db,
        &format!(
            "SELECT EXISTS (SELECT 1 FROM \"{default}\" WHERE \"{key}\" >= $1::date \
             AND \"{key}\" < $2::date) AS yes"
        ),
        vec![from.to_string(), to.to_string()],
    )
    .await?;
    if stranded {
        // A month the default partition already holds rows of: its rows move into a table of
        // their own, which is then attached (PostgreSQL refuses a new partition whose rows
        // the default partition still holds).
        exec(
            db,
            &format!("CREATE TABLE \"{name}\" (LIKE \"{table}\" INCLUDING DEFAULTS){with}"),
        )
        .await?;
        exec(
            db,
            &format!(
                "WITH moved AS (DELETE FROM \"{default}\" WHERE \"{key}\" >= '{from}' \
                 AND \"{key}\" < '{to}' RETURNING *) INSERT INTO \"{name}\" SELECT * FROM moved"
            ),
        )
        .await?;
        exec(
            db,
            &format!("ALTER TABLE \"{table}\" ATTACH PARTITION \"{name}\" {bounds}"),
        )
        .await?;
    } else {
        exec(
            db,
            &format!("CREATE TABLE \"{name}\" PARTITION OF \"{table}\" {bounds}{with}"),
        )
        .await?;
    }
    Ok(true)
}

/// The months `t`'s default partition holds rows of.
pub async fn default_months<C: ConnectionTrait>(
    db: &C,
    t: &Partitioned,
) -> Result<Vec<NaiveDate>, DbErr> {
    months_in(db, &default_name(t.table), t.key).await
}

/// Converts `t` to a table partitioned by month, keeping every row: one partition for every
/// month that holds rows and for each of `ahead`, plus the default partition.
pub async fn partition<C: ConnectionTrait>(
    db: &C,
    t: &Partitioned,
    ahead: &[NaiveDate],
) -> Result<(), DbErr> {
    let old = rebuild(db, t, true).await?;
    exec(
        db,
        &format!(
            "CREATE TABLE \"{}\" PARTITION OF \"{}\" DEFAULT{}",
            default_name(t.table),
            t.table,
            t.storage()
        ),
    )
    .await?;
    let mut wanted = months_in(db, &old, t.key).await?;
    wanted.extend(ahead.iter().copied().map(month_of));
    wanted.sort();
    wanted.dedup();
    for m in wanted {
        ensure_month(db, t, m).await?;
    }
    copy_and_drop(db, t, &old).await
}

/// Converts `t` back to one unpartitioned table, keeping every row (the migration's `down`).
pub async fn unpartition<C: ConnectionTrait>(db: &C, t: &Partitioned) -> Result<(), DbErr> {
    let old = rebuild(db, t, false).await?;
    copy_and_drop(db, t, &old).await
}

/// Moves `t` aside and creates it anew, empty, partitioned or not, with its keys and indexes.
/// Returns the name of the moved-aside table.
async fn rebuild<C: ConnectionTrait>(
    db: &C,
    t: &Partitioned,
    partitioned: bool,
) -> Result<String, DbErr> {
    let table = t.table;
    let old = format!("{table}_old");
    exec(db, &format!("ALTER TABLE \"{table}\" RENAME TO \"{old}\"")).await?;
    if t.id_sequence {
        // The old table's id sequence (an identity, or a sequence it owns) goes with it; its
        // name makes way for the new table's.
        let seq = serial_sequence(db, &old).await?;
        exec(
            db,
            &format!("ALTER SEQUENCE {seq} RENAME TO \"{table}_old_id_seq\""),
        )
        .await?;
    }
    // Constraint and index names are per schema: the old table's give way to the new one's.
    let (pk, unique): (&str, &[(&str, &str)]) = if partitioned {
        (t.primary_key, &[])
    } else {
        (t.plain_primary_key, t.plain_unique)
    };
    exec(
        db,
        &format!("ALTER TABLE \"{old}\" DROP CONSTRAINT IF EXISTS \"{table}_pkey\""),
    )
    .await?;
    for (index, _) in t.indexes.iter().chain(t.plain_unique) {
        exec(db, &format!("DROP INDEX IF EXISTS \"{index}\"")).await?;
    }
    let by = if partitioned {
        format!(" PARTITION BY RANGE (\"{}\")", t.key)
    } else {
        t.storage()
    };
    exec(
        db,
        &format!(
            "CREATE TABLE \"{table}\" (LIKE \"{old}\" INCLUDING DEFAULTS, \
             CONSTRAINT \"{table}_pkey\" PRIMARY KEY ({pk})){by}"
        ),
    )
    .await?;
    for (index, cols) in t.indexes {
        exec(
            db,
            &format!("CREATE INDEX \"{index}\" ON \"{table}\" ({cols})"),
        )
        .await?;
    }
    for (index, cols) in unique {
        exec(
            db,
            &format!("CREATE UNIQUE INDEX \"{index}\" ON \"{table}\" ({cols})"),
        )
        .await?;
    }
    if t.id_sequence {
        take_over_sequence(db, table).await?;
    }
    Ok(old)
}

/// The sequence behind `relation`'s `id` (qualified and quoted as PostgreSQL prints it).
async fn serial_sequence<C: ConnectionTrait>(db: &C, relation: &str) -> Result<String, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_get_serial_sequence($1, 'id') AS seq",
            [format!("\"{relation}\"").into()],
        ))
        .await?;
    row.and_then(|r| r.try_get::<Option<String>>("", "seq").ok().flatten())
        .ok_or_else(|| DbErr::Custom(format!("{relation}.id has no sequence")))
}

/// Gives the new `table` an id sequence of its own (PostgreSQL 15 allows no identity column on
/// a partitioned table), continuing exactly where the old table's left off.
async fn take_over_sequence<C: ConnectionTrait>(db: &C, table: &str) -> Result<(), DbErr> {
    let seq = format!("{table}_id_seq");
    let old_seq = format!("{table}_old_id_seq");
    for sql in [
        format!("CREATE SEQUENCE \"{seq}\""),
        format!("ALTER TABLE \"{table}\" ALTER COLUMN id SET DEFAULT nextval('\"{seq}\"')"),
        format!("ALTER SEQUENCE \"{seq}\" OWNED BY \"{table}\".id"),
        format!("SELECT setval('\"{seq}\"', s.last_value, s.is_called) FROM \"{old_seq}\" AS s"),
    ] {
        exec(db, &sql).await?;
    }
    Ok(())
}

async fn copy_and_drop<C: ConnectionTrait>(
    db: &C,
    t: &Partitioned,
    old: &str,
) -> Result<(), DbErr> {
    exec(
        db,
        &format!("INSERT INTO \"{}\" SELECT * FROM \"{old}\"", t.table),
    )
    .await?;
    exec(db, &format!("DROP TABLE \"{old}\"")).await
}
