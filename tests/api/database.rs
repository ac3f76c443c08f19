//! Write transactions under contention: SQLite's write lock is taken up front, transient
//! failures are retried as whole transactions, and what survives the retries is a 503
//! `database_busy` that wrote nothing — never a 500.

use merchant_incentives::db;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::support::{As, spawn_app, spawn_app_with};

fn postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok()
}

async fn scratch_table(db: &DatabaseConnection) {
    db.execute_unprepared("CREATE TABLE scratch (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")
        .await
        .unwrap();
    db.execute_unprepared("INSERT INTO scratch (id, n) VALUES (1, 0), (2, 0)")
        .await
        .unwrap();
}

#[tokio::test]
async fn sqlite_write_transactions_take_the_lock_up_front() {
    if postgres() {
        println!("skipped on PostgreSQL: BEGIN IMMEDIATE and SQLITE_BUSY_SNAPSHOT are SQLite's");
        return;
    }
    let app = spawn_app().await;
    scratch_table(&app.db).await;

    // The failure: a deferred transaction reads, another connection commits a write, and the
    // first one can no longer take the write lock (SQLITE_BUSY_SNAPSHOT, 517). No busy
    // timeout helps; only running the whole transaction again does.
    let deferred = app.db.begin().await.unwrap();
    deferred
        .execute_unprepared("SELECT n FROM scratch WHERE id = 1")
        .await
        .unwrap();
    app.db
        .execute_unprepared("UPDATE scratch SET n = n + 1 WHERE id = 2")
        .await
        .unwrap();
    let err = deferred
        .execute_unprepared("UPDATE scratch SET n = n + 1 WHERE id = 1")
        .await
        .unwrap_err();
    assert!(db::is_transient(&err), "busy snapshot is transient: {err}");
    deferred.rollback().await.unwrap();

    // The cure: `begin_write` holds the write lock from BEGIN, so the other writer waits for
    // the commit instead of invalidating the read.
    let txn = db::begin_write(&app.db).await.unwrap();
    txn.execute_unprepared("SELECT n FROM scratch WHERE id = 1")
        .await
        .unwrap();
    let other = {
        let db = app.db.clone();
        tokio::spawn(async move {
            db.execute_unprepared("UPDATE scratch SET n = n + 1 WHERE id = 2")
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!other.is_finished(), "the other writer waits for our lock");
    txn.execute_unprepared("UPDATE scratch SET n = n + 1 WHERE id = 1")
        .await
        .expect("our write goes through");
    txn.commit().await.unwrap();
    other
        .await
        .unwrap()
        .expect("the other writer then goes through");
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT CAST(SUM(n) AS BIGINT) AS total FROM scratch",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "total").unwrap(), 3);
}

#[tokio::test]
async fn postgres_deadlocks_are_transient_and_retried() {
    if !postgres() {
        println!("skipped on SQLite: deadlock detection (40P01) is PostgreSQL's");
        return;
    }
    let app = spawn_app().await;
    scratch_table(&app.db).await;
    // Two transactions lock the two rows in opposite orders: PostgreSQL aborts one of them
    // with 40P01 after `deadlock_timeout`.
    let a = app.db.begin().await.unwrap();
    let b = app.db.begin().await.unwrap();
    a.execute_unprepared("UPDATE scratch SET n = n + 1 WHERE id = 1")
        .await
        .unwrap();
    b.execute_unprepared("UPDATE scratch SET n = n + 1 WHERE id = 2")
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(
        a.execute_unprepared("UPDATE scratch SET n = n + 1 WHERE id = 2"),
        b.execute_unprepared("UPDATE scratch SET n = n + 1 WHERE id = 1"),
    );
    let err = match (ra, rb) {
        (Err(e), Ok(_)) => {
            a.rollback().await.unwrap();
            b.commit().await.unwrap();
            e
        }
        (Ok(_), Err(e)) => {
            b.rollback().await.unwrap();
            a.commit().await.unwrap();
            e
        }
        other => panic!("expected exactly one deadlock victim, got {other:?}"),
    };
    assert!(db::is_transient(&err), "a deadlock is transient: {err}");

    // `retry` runs a failed transaction again: here its first two tries end as deadlock
    // victims (real ones), the third goes through.
    let mut attempts = 0;
    let out: Result<u64, sea_orm::DbErr> = db::retry(|| {
        attempts += 1;
        let n = attempts;
        let db = app.db.clone();
        async move {
            if n < 3 {
                return Err(deadlock(&db).await);
            }
            let txn = db::begin_write(&db).await?;
            txn.execute_unprepared("UPDATE scratch SET n = n + 10 WHERE id = 1")
                .await?;
            txn.commit().await?;
            Ok(n as u64)
        }
    })
    .await;
    assert_eq!(out.unwrap(), 3);
}

/// Provokes a real deadlock between two transactions on `db` and returns the victim's error.
async fn deadlock(db: &DatabaseConnection) -> sea_orm::DbErr {
    let a = db.begin().await.unwrap();
    let b = db.begin().await.unwrap();
    a.execute_unprepared("UPDATE scratch SET n = n WHERE id = 1")
        .await
        .unwrap();
    b.execute_unprepared("UPDATE scratch SET n = n WHERE id = 2")
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(
        a.execute_unprepared("UPDATE scratch SET n = n WHERE id = 2"),
        b.execute_unprepared("UPDATE scratch SET n = n WHERE id = 1"),
    );
    let _ = a.rollback().await;
    let _ = b.rollback().await;
    ra.err().or(rb.err()).expect("one deadlock victim")
}

#[tokio::test]
async fn a_transaction_still_busy_after_its_retries_answers_503_and_writes_nothing() {
    if postgres() {
        println!(
            "skipped on PostgreSQL: it waits for row locks instead of failing busy (its transient errors are tested above)"
        );
        return;
    }
    let app = spawn_app_with(&[("DATABASE_BUSY_TIMEOUT_MS", "50")]).await;
    let (id, _) = app.register_merchant("brand").await;

    // Another process holds SQLite's write lock throughout the request.
    let url = app.state.config.database_url.clone();
    let holder = db::connect(&url).await.unwrap();
    let lock = db::begin_write(&holder).await.unwrap();
    lock.execute_unprepared("UPDATE merchant SET updated_at = updated_at WHERE id = 0")
        .await
        .unwrap();

    let r = app.decide(id, "approve", "ok").await;
    assert_eq!(r.status.as_u16(), 503, "{}", r.text);
    assert_eq!(r.body["code"], "database_busy");
    assert_eq!(r.headers["retry-after"], "1");
    lock.rollback().await.unwrap();

    // Nothing was written, and the same request now goes through.
    let m = app
        .get(&format!("/api/v1/merchants/{id}"), &As::Admin)
        .await
        .expect(200);
    assert_eq!(m.body["status"], "submitted");
    let decisions = app
        .get(&format!("/api/v1/merchants/{id}/decisions"), &As::Admin)
        .await
        .expect(200);
    assert_eq!(decisions.body["items"].as_array().unwrap().len(), 0);
    let r = app.decide(id, "approve", "ok").await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_eq!(r.body["status"], "approved");
}
