//! Domain services: the logic, taking a database connection and domain types. No poem here.

pub mod audit;
pub mod creators;
pub mod evaluation;
pub mod gmv;
pub mod health;
pub mod merchants;
pub mod partitions;
pub mod platform;
pub mod products;
pub mod programs;
pub mod reports;
pub mod rewards;
pub mod runs;
pub mod segments;
pub mod staff;
pub mod webhooks;

/// What happened to one item of a registration batch (creators, products).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
    Rejected(crate::domain::FieldError),
}
