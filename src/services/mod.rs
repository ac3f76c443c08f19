//! Domain services: the logic, taking a database connection and domain types. No poem here.

pub mod audit;
pub mod creators;
pub mod evaluation;
pub mod gmv;
pub mod health;
pub mod merchants;
pub mod programs;
pub mod reports;
pub mod rewards;
pub mod runs;
pub mod staff;
pub mod webhooks;
