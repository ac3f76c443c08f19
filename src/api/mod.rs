//! The HTTP layer: one `#[OpenApi]` impl per tag, thin, no SQL.

pub mod codes;
pub mod creators;
pub mod document;
pub mod emails;
pub mod evaluations;
pub mod gmv;
pub mod me;
pub mod merchants;
pub mod ops;
pub mod platform;
pub mod products;
pub mod programs;
pub mod rewards;
pub mod staff;
pub mod tags;
pub mod types;
pub mod webhooks;

use poem_openapi::OpenApiService;

pub const DESCRIPTION: &str = "\
Onboards brand and industry-belt merchants, records their GMV, evaluates their progress \
against the marketplace's incentive tiers and emails status reports.\n\n\
**Staff** authorize with `Authorization: Bearer <token>` (the `ADMIN_TOKEN`, or a token made \
with `merchant-incentives staff create`). **Merchants** authorize with `X-API-Key: <key>`, \
returned once by `POST /api/v1/merchants`.\n\n\
Money is an integer number of fen (1 CNY = 100 fen). Errors are `{code, message, field}`. \
Lists take `limit` (1–500, default 50) and an opaque `cursor`, and answer `{items, next_cursor}`.";

pub type Apis = (
    ops::OpsApi,
    staff::StaffApi,
    merchants::MerchantsApi,
    me::MeApi,
    programs::ProgramsApi,
    evaluations::EvaluationsApi,
    emails::EmailsApi,
    gmv::GmvApi,
    webhooks::WebhooksApi,
    rewards::RewardsApi,
    creators::CreatorsApi,
    products::ProductsApi,
    platform::PlatformApi,
    platform::InsightsApi,
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
        webhooks::WebhooksApi,
        rewards::RewardsApi,
        creators::CreatorsApi,
        products::ProductsApi,
        platform::PlatformApi,
        platform::InsightsApi,
    )
}

/// The OpenAPI service of every operation.
pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(apis(), "merchant-incentives", env!("CARGO_PKG_VERSION"))
        .description(DESCRIPTION)
}
