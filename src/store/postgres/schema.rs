//! The PostgreSQL schema, versioned in the table `aviary_schema`: [`MIGRATIONS`] holds one
//! script per version, applied in order at start under a transaction-scoped advisory lock, so
//! several daemons starting at once apply each script exactly once. Append only.
//!
//! It holds what the SQLite schema holds (times as integer milliseconds, reports whole as JSON),
//! written for PostgreSQL: identifiers sort bytewise (`COLLATE "C"`, as in SQLite), and rows
//! that SQLite orders by `rowid` carry an identity column.

use postgres::Client;

use crate::store::StoreError;

/// Schema scripts; version N is `MIGRATIONS[N - 1]`.
const MIGRATIONS: &[&str] = &[
    // 1: run history, datapoints, hourly run totals, alarm states and history, failover changes.
    r#"CREATE TABLE runs (
        run_id      TEXT COLLATE "C" PRIMARY KEY,
        canary      TEXT COLLATE "C" NOT NULL,
        attempt     BIGINT NOT NULL,
        blueprint   TEXT NOT NULL,
        status      TEXT NOT NULL,
        reason      TEXT,
        started_at  BIGINT NOT NULL,
        ended_at    BIGINT NOT NULL,
        duration_ms DOUBLE PRECISION NOT NULL,
        artifacts   TEXT NOT NULL,
        report_json TEXT NOT NULL
    );
    CREATE INDEX runs_by_canary ON runs (canary, started_at);
    CREATE TABLE steps (
        run_id      TEXT COLLATE "C" NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        idx         BIGINT NOT NULL,
        name        TEXT COLLATE "C" NOT NULL,
        status      TEXT NOT NULL,
        reason      TEXT,
        started_at  BIGINT NOT NULL,
        duration_ms DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX steps_by_run ON steps (run_id, idx);
    CREATE TABLE datapoints (
        id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        metric TEXT COLLATE "C" NOT NULL,
        canary TEXT COLLATE "C" NOT NULL,
        step   TEXT COLLATE "C",
        ts     BIGINT NOT NULL,
        value  DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX datapoints_by_series ON datapoints (canary, metric, step, ts);
    CREATE INDEX datapoints_by_run ON datapoints (run_id);
    CREATE TABLE run_hours (
        hour        BIGINT NOT NULL,
        canary      TEXT COLLATE "C" NOT NULL,
        runs        BIGINT NOT NULL,
        passed      BIGINT NOT NULL,
        duration_ms DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (hour, canary)
    );
    CREATE INDEX run_hours_by_canary ON run_hours (canary, hour);
    CREATE FUNCTION run_hours_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO run_hours AS h (hour, canary, runs, passed, duration_ms)
        VALUES ((NEW.started_at / 3600000) * 3600000, NEW.canary, 1,
                CASE WHEN NEW.status = 'PASSED' THEN 1 ELSE 0 END, NEW.duration_ms)
        ON CONFLICT (hour, canary) DO UPDATE SET runs = h.runs + 1, passed = h.passed + excluded.passed,
            duration_ms = h.duration_ms + excluded.duration_ms;
        RETURN NULL;
    END $$;
    CREATE FUNCTION run_hours_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE run_hours SET runs = runs - 1,
            passed = passed - CASE WHEN OLD.status = 'PASSED' THEN 1 ELSE 0 END,
            duration_ms = duration_ms - OLD.duration_ms
            WHERE hour = (OLD.started_at / 3600000) * 3600000 AND canary = OLD.canary;
        DELETE FROM run_hours
            WHERE hour = (OLD.started_at / 3600000) * 3600000 AND canary = OLD.canary AND runs <= 0;
        RETURN NULL;
    END $$;
    CREATE TRIGGER run_hours_insert AFTER INSERT ON runs FOR EACH ROW EXECUTE FUNCTION run_hours_insert();
    CREATE TRIGGER run_hours_delete AFTER DELETE ON runs FOR EACH ROW EXECUTE FUNCTION run_hours_delete();
    CREATE TABLE alarm_states (
        alarm      TEXT COLLATE "C" PRIMARY KEY,
        state      TEXT NOT NULL,
        reason     TEXT NOT NULL,
        since      BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE TABLE alarm_history (
        id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        alarm     TEXT COLLATE "C" NOT NULL,
        ts        BIGINT NOT NULL,
        old_state TEXT NOT NULL,
        new_state TEXT NOT NULL,
        reason    TEXT NOT NULL
    );
    CREATE INDEX alarm_history_by_alarm ON alarm_history (alarm, ts);
    CREATE TABLE failover_history (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        failover    TEXT COLLATE "C" NOT NULL,
        record      TEXT NOT NULL,
        ts          BIGINT NOT NULL,
        from_values TEXT NOT NULL,
        to_values   TEXT NOT NULL,
        answer      TEXT NOT NULL,
        why         TEXT NOT NULL
    );
    CREATE INDEX failover_history_by_name ON failover_history (failover, ts);"#,
    // 2: schedule slots claimed by runners (exactly one run per canary, location and slot).
    r#"CREATE TABLE slot_claims (
        canary     TEXT COLLATE "C" NOT NULL,
        location   TEXT COLLATE "C" NOT NULL,
        slot       BIGINT NOT NULL,
        runner     TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        done       BOOLEAN NOT NULL DEFAULT false,
        takeovers  BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (canary, location, slot)
    );
    CREATE INDEX slot_claims_open ON slot_claims (location, expires_at) WHERE NOT done;
    CREATE INDEX slot_claims_by_slot ON slot_claims (slot);"#,
    // 3: where each run and datapoint checked from.
    r#"ALTER TABLE runs ADD COLUMN location TEXT COLLATE "C";
    ALTER TABLE datapoints ADD COLUMN location TEXT COLLATE "C";"#,
    // 4: which version of each canary file each runner loaded.
    r#"CREATE TABLE canary_versions (
        canary  TEXT COLLATE "C" NOT NULL,
        runner  TEXT COLLATE "C" NOT NULL,
        version TEXT NOT NULL,
        seen_at BIGINT NOT NULL,
        PRIMARY KEY (canary, runner)
    );
    CREATE INDEX canary_versions_by_runner ON canary_versions (runner);"#,
];

/// The schema version this build writes to PostgreSQL.
pub const PG_SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Any fixed number: the advisory lock that keeps two migrations from running at once.
const MIGRATION_LOCK: i64 = 0x6176_6961_7279_0001;

/// What migrating found: the schema is current, or it is newer than this build.
pub(super) enum Migrated {
    Current,
    TooNew(u32),
}

/// Brings the schema up to [`PG_SCHEMA_VERSION`] in one transaction.
pub(super) fn migrate(client: &mut Client) -> Result<Migrated, postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS aviary_schema (version BIGINT NOT NULL)")?;
    let found: i64 = tx.query_opt("SELECT version FROM aviary_schema", &[])?.map_or(0, |row| row.get(0));
    if found > i64::from(PG_SCHEMA_VERSION) {
        return Ok(Migrated::TooNew(u32::try_from(found).unwrap_or(u32::MAX)));
    }
    let applied = usize::try_from(found).unwrap_or(0);
    for script in MIGRATIONS.iter().skip(applied) {
        tx.batch_execute(script)?;
    }
    tx.execute("DELETE FROM aviary_schema", &[])?;
    tx.execute("INSERT INTO aviary_schema (version) VALUES ($1)", &[&i64::from(PG_SCHEMA_VERSION)])?;
    tx.commit()?;
    Ok(Migrated::Current)
}

/// The error for a database written by a newer aviary.
pub(super) fn too_new(db: &str, found: u32) -> StoreError {
    StoreError::SchemaTooNew { db: db.to_string(), found, supported: PG_SCHEMA_VERSION }
}
