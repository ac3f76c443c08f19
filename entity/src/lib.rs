//! sea-orm entities, one file per table. No business logic lives here.

pub mod achievement;
pub mod api_key;
pub mod audit_log;
pub mod creator;
pub mod creator_key;
pub mod email_outbox;
pub mod enums;
pub mod gmv_daily_creator;
pub mod gmv_daily_merchant;
pub mod gmv_daily_product;
pub mod gmv_record;
pub mod job_run;
pub mod merchant;
pub mod merchant_decision;
pub mod payout;
pub mod platform_gmv;
pub mod product;
pub mod program;
pub mod progress;
pub mod progress_snapshot;
pub mod reward;
pub mod server_key;
pub mod staff_token;
pub mod webhook_delivery;
pub mod webhook_endpoint;
pub mod webhook_event;
