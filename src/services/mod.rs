//! Domain services: the logic, taking a database connection and domain types. No poem here.

pub mod audit;
pub mod merchants;
pub mod staff;
pub mod evaluation;
pub mod programs;
