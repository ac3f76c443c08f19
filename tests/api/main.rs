//! The integration tests: one binary (linking the crate once), one module per area.

#[path = "../support/mod.rs"]
mod support;

mod access;
mod cli;
mod client_journey;
mod crash;
mod creators;
mod dashboard;
mod database;
mod document;
mod enums;
mod evaluation;
mod failover;
mod foundation;
mod gmv;
mod inputs;
mod layers;
mod limits;
mod mail;
mod onboarding;
mod outage;
mod partitions;
mod programs;
mod replica;
mod replicas;
mod reports;
mod rewards;
mod secrets;
mod soak;
mod structure;
mod webhooks;
