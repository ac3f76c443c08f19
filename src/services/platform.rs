//! The marketplace's own GMV: one row per local day (Asia/Shanghai), by channel, recorded by
//! an admin from the marketplace's warehouse. It is the denominator of the structure shares.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use entity::platform_gmv;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, sea_query::OnConflict,
};

use crate::{
    db,
    domain::{ErrorCode, FieldError, period::Overflow, program::Channel},
};

/// The longest span one read covers, in days.
pub const MAX_DAYS: i64 = 731;

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error(transparent)]
    Overflow(#[from] Overflow),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl db::MaybeTransient for PlatformError {
    fn transient(&self) -> Option<db::Transient> {
        match self {
            Self::Db(e) => db::transient(e),
            _ => None,
        }
    }
}

/// A day's GMV by channel, fen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelAmounts {
    pub live_stream: i64,
    pub short_video: i64,
    pub storefront: i64,
    pub other: i64,
}

/// The most one channel's daily GMV may be, fen (¥10 trillion): four of them always fit.
pub const MAX_CHANNEL_FEN: i64 = 1_000_000_000_000_000;

impl ChannelAmounts {
    /// The day's total; each channel must be 0 to [`MAX_CHANNEL_FEN`].
    pub fn total(&self) -> Result<i64, PlatformError> {
        let parts = [
            (Channel::LiveStream, self.live_stream),
            (Channel::ShortVideo, self.short_video),
            (Channel::Storefront, self.storefront),
            (Channel::Other, self.other),
        ];
        let mut sum: i64 = 0;
        for (name, v) in parts {
            if !(0..=MAX_CHANNEL_FEN).contains(&v) {
                return Err(FieldError::new(
                    format!("channels.{name}"),
                    ErrorCode::AmountOutOfRange,
                    format!("a channel's daily GMV is 0 to {MAX_CHANNEL_FEN} fen"),
                )
                .into());
            }
            sum = sum
                .checked_add(v)
                .ok_or(Overflow("the platform's daily GMV"))?;
        }
        Ok(sum)
    }
}

/// Records (or overwrites) the marketplace's GMV of `day`. Returns the row and whether the
/// day was new.
pub async fn put_day(
    db: &DatabaseConnection,
    actor: &str,
    day: NaiveDate,
    channels: ChannelAmounts,
) -> Result<(platform_gmv::Model, bool), PlatformError> {
    let total = channels.total()?;
    db::retry(|| async {
        let txn = db::begin_write(db).await?;
        let existed = platform_gmv::Entity::find_by_id(day)
            .one(&txn)
            .await?
            .is_some();
        let row = platform_gmv::Model {
            day,
            live_stream: channels.live_stream,
            short_video: channels.short_video,
            storefront: channels.storefront,
            other: channels.other,
            total,
            updated_by: actor.to_string(),
            updated_at: Utc::now(),
        };
        platform_gmv::Entity::insert(platform_gmv::ActiveModel {
            day: Set(row.day),
            live_stream: Set(row.live_stream),
            short_video: Set(row.short_video),
            storefront: Set(row.storefront),
            other: Set(row.other),
            total: Set(row.total),
            updated_by: Set(row.updated_by.clone()),
            updated_at: Set(row.updated_at),
        })
        .on_conflict(
            OnConflict::column(platform_gmv::Column::Day)
                .update_columns([
                    platform_gmv::Column::LiveStream,
                    platform_gmv::Column::ShortVideo,
                    platform_gmv::Column::Storefront,
                    platform_gmv::Column::Other,
                    platform_gmv::Column::Total,
                    platform_gmv::Column::UpdatedBy,
                    platform_gmv::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok::<_, PlatformError>((row, !existed))
    })
    .await
}

/// Checks a span of local days: `from` not after `to`, at most [`MAX_DAYS`].
pub fn check_span(from: NaiveDate, to: NaiveDate) -> Result<(), FieldError> {
    crate::domain::period::check_span(from, to, MAX_DAYS)
}

/// The recorded days of `from..=to`, oldest first.
pub async fn list(
    db: &DatabaseConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<platform_gmv::Model>, PlatformError> {
    check_span(from, to)?;
    Ok(platform_gmv::Entity::find()
        .filter(platform_gmv::Column::Day.gte(from))
        .filter(platform_gmv::Column::Day.lte(to))
        .order_by_asc(platform_gmv::Column::Day)
        .all(db)
        .await?)
}

/// The platform totals of the recorded days of `from..=to`.
pub async fn totals<C: ConnectionTrait>(
    db: &C,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<NaiveDate, i64>, DbErr> {
    let rows: Vec<(NaiveDate, i64)> = platform_gmv::Entity::find()
        .select_only()
        .column(platform_gmv::Column::Day)
        .column(platform_gmv::Column::Total)
        .filter(platform_gmv::Column::Day.gte(from))
        .filter(platform_gmv::Column::Day.lte(to))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}
