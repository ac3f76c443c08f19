//! Staff tokens, the audit log, the job-run ledger (one row per scheduled tick) and the email outbox.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(StaffToken::Table)
                .col(big_pk_auto(StaffToken::Id))
                .col(string_len(StaffToken::Name, 100))
                .col(string_len(StaffToken::Role, 16))
                .col(string_len(StaffToken::Prefix, 16))
                .col(string_len_uniq(StaffToken::TokenHash, 64))
                .col(timestamp_with_time_zone(StaffToken::CreatedAt))
                .col(timestamp_with_time_zone_null(StaffToken::LastUsedAt))
                .col(timestamp_with_time_zone_null(StaffToken::RevokedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(big_pk_auto(AuditLog::Id))
                .col(string_len(AuditLog::Actor, 120))
                .col(string_len(AuditLog::Action, 64))
                .col(string_len(AuditLog::Target, 200))
                .col(text(AuditLog::Detail))
                .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(JobRun::Table)
                .col(big_pk_auto(JobRun::Id))
                .col(string_len(JobRun::Job, 32))
                .col(timestamp_with_time_zone(JobRun::ScheduledAt))
                .col(timestamp_with_time_zone(JobRun::AsOf))
                .col(string_len(JobRun::Replica, 120))
                .col(string_len(JobRun::Trigger, 16))
                .col(timestamp_with_time_zone(JobRun::StartedAt))
                .col(timestamp_with_time_zone_null(JobRun::FinishedAt))
                .col(string_len(JobRun::Outcome, 16))
                .col(text_null(JobRun::Error))
                .col(big_integer(JobRun::SubjectsEvaluated).default(0))
                .col(big_integer(JobRun::AchievementsRecorded).default(0))
                .col(big_integer(JobRun::AchievementsRevoked).default(0))
                .col(big_integer(JobRun::EmailsQueued).default(0))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_job_run_tick")
                .table(JobRun::Table)
                .col(JobRun::Job)
                .col(JobRun::ScheduledAt)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(EmailOutbox::Table)
                .col(big_pk_auto(EmailOutbox::Id))
                .col(string_len(EmailOutbox::Kind, 32))
                .col(big_integer_null(EmailOutbox::MerchantId))
                .col(string_len(EmailOutbox::Recipient, 320))
                .col(string_len(EmailOutbox::Locale, 8))
                .col(string_len(EmailOutbox::Subject, 400))
                .col(text(EmailOutbox::TextBody))
                .col(text(EmailOutbox::HtmlBody))
                .col(string_len_uniq(EmailOutbox::DedupeKey, 200))
                .col(string_len(EmailOutbox::MessageId, 200))
                .col(string_len(EmailOutbox::Status, 16))
                .col(integer(EmailOutbox::Attempts).default(0))
                .col(timestamp_with_time_zone(EmailOutbox::NextAttemptAt))
                .col(timestamp_with_time_zone_null(EmailOutbox::ClaimedUntil))
                .col(text_null(EmailOutbox::LastError))
                .col(timestamp_with_time_zone(EmailOutbox::CreatedAt))
                .col(timestamp_with_time_zone_null(EmailOutbox::SentAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_email_outbox_due")
                .table(EmailOutbox::Table)
                .col(EmailOutbox::Status)
                .col(EmailOutbox::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            EmailOutbox::Table.into_iden(),
            JobRun::Table.into_iden(),
            AuditLog::Table.into_iden(),
            StaffToken::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum StaffToken {
    Table,
    Id,
    Name,
    Role,
    Prefix,
    TokenHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    Actor,
    Action,
    Target,
    Detail,
    CreatedAt,
}

#[derive(DeriveIden)]
enum JobRun {
    Table,
    Id,
    Job,
    ScheduledAt,
    AsOf,
    Replica,
    Trigger,
    StartedAt,
    FinishedAt,
    Outcome,
    Error,
    SubjectsEvaluated,
    AchievementsRecorded,
    AchievementsRevoked,
    EmailsQueued,
}

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    Id,
    Kind,
    MerchantId,
    Recipient,
    Locale,
    Subject,
    TextBody,
    HtmlBody,
    DedupeKey,
    MessageId,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastError,
    CreatedAt,
    SentAt,
}
