//! The HTTP layer: one `#[OpenApi]` impl per tag, thin, no SQL.

pub mod codes;
pub mod document;
pub mod emails;
pub mod evaluations;
pub mod gmv;
pub mod me;
pub mod merchants;
pub mod ops;
pub mod programs;
pub mod staff;
pub mod types;

use poem_openapi::Tags;

pub const DESCRIPTION: &str = "\
Onboards brand and industry-belt merchants, records their GMV, evaluates their progress \
against the marketplace's incentive tiers and emails status reports.\n\n\
**Staff** authorize with `Authorization: Bearer <token>` (the `ADMIN_TOKEN`, or a token made \
with `merchant-incentives staff create`). **Merchants** authorize with `X-API-Key: <key>`, \
returned once by `POST /api/v1/merchants`.\n\n\
Money is an integer number of fen (1 CNY = 100 fen). Errors are `{code, message, field}`. \
Lists take `limit` (1–500, default 50) and an opaque `cursor`, and answer `{items, next_cursor}`.";

#[derive(Tags)]
pub enum ApiTags {
    /// Applying, reviewing and looking up merchants.
    Merchants,
    /// The calling merchant's own account, keys and notification settings.
    Me,
    /// Staff tokens and the audit log.
    Staff,
    /// Health, readiness and metrics.
    Operations,
    /// Incentive programmes, tiers, leaderboards and achievements.
    Programs,
    /// Evaluation runs: run now, and the history of scheduled and manual runs.
    Evaluations,
    /// Email reports: previews, digests and the outbox with its delivery state.
    Reports,
    /// Reporting GMV records and reading them back, raw or summarised by period.
    Gmv,
}

pub type Apis = (
    ops::OpsApi,
    staff::StaffApi,
    merchants::MerchantsApi,
    me::MeApi,
    programs::ProgramsApi,
    evaluations::EvaluationsApi,
    emails::EmailsApi,
    gmv::GmvApi,
);

pub fn apis() -> Apis {
    (
        ops::OpsApi,
        staff::StaffApi,
        merchants::MerchantsApi,
        me::MeApi,
        programs::ProgramsApi,
        evaluations::EvaluationsApi,
        emails::EmailsApi,
        gmv::GmvApi,
    )
}
