//! merchant-incentives: onboards marketplace merchants, records their GMV, evaluates incentive
//! tiers on a schedule and emails status reports.

pub mod api;
pub mod app;
pub mod auth;
pub mod charts;
pub mod cli;
pub mod config;
pub mod contract;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod error_code;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod pagination;
pub mod ratelimit;
pub mod secrets;
pub mod services;
pub mod state;
pub mod telemetry;
pub mod web;
