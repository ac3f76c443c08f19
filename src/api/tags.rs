//! The document's tags, one per area.

use poem_openapi::Tags;

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
    /// Creators (达人): registration, lookup, creator keys and what a creator may read.
    Creators,
    /// What each tier earned, and the payouts that pay it.
    Rewards,
    /// Signed webhooks: endpoints, their secrets and their deliveries.
    Webhooks,
}
