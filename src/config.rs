//! Every setting, read once from the environment (and `.env`), typed and validated.
//! A bad value stops start-up with one line naming the variable.

use std::{net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use croner::{Cron, parser::CronParser};
use lettre::message::Mailbox;
use url::Url;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/merchant-incentives.db?mode=rwc";

/// A configuration value that could not be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

/// A validated 6-field cron expression (seconds first), evaluated in `Asia/Shanghai`.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub expr: String,
    pub cron: Cron,
}

impl Schedule {
    pub fn parse(expr: &str) -> Result<Self, String> {
        let cron = CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(expr)
            .map_err(|e| format!("not a 6-field cron expression ({e})"))?;
        Ok(Self {
            expr: expr.to_string(),
            cron,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub admin_token: Option<String>,
    pub smtp_url: Option<Url>,
    pub mail_dir: PathBuf,
    pub mail_from: Mailbox,
    pub staff_digest_to: Vec<Mailbox>,
    pub schedule_evaluate: Schedule,
    pub schedule_merchant_weekly: Schedule,
    pub schedule_staff_daily: Schedule,
    pub outbox_poll: Duration,
    pub scheduler: bool,
    pub json_logs: bool,
    /// Applications accepted per client address per minute on `POST /merchants`.
    pub apply_rate_per_minute: u32,
    /// Requests per API key or staff token per second (burst: twice that).
    pub key_rate_per_second: u32,
    /// Longest a request may take before the server answers 503 and drops it.
    pub request_timeout: Duration,
    /// Name of this replica in the job-run ledger.
    pub replica: String,
}

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn get(lookup: Lookup, var: &'static str) -> Option<String> {
    lookup(var)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn parsed<T>(
    lookup: Lookup,
    var: &'static str,
    default: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let raw = get(lookup, var).unwrap_or_else(|| default.to_string());
    parse(&raw).map_err(|message| ConfigError { var, message })
}

fn from_str<T: FromStr>(s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>()
        .map_err(|e| format!("cannot parse {s:?}: {e}"))
}

impl Config {
    /// Reads the process environment (after loading `.env` if present).
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Reads settings through `lookup`; tests pass a map instead of the environment.
    pub fn from_lookup(lookup: Lookup) -> Result<Self, ConfigError> {
        let database_url = parsed(lookup, "DATABASE_URL", DEFAULT_DATABASE_URL, |s| {
            let url = Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
            match url.scheme() {
                "sqlite" | "postgres" | "postgresql" => Ok(s.to_string()),
                other => Err(format!(
                    "unsupported scheme {other:?}; use sqlite:// or postgres://"
                )),
            }
        })?;
        let smtp_url = match get(lookup, "SMTP_URL") {
            None => None,
            Some(raw) => Some(
                Url::parse(&raw)
                    .map_err(|e| e.to_string())
                    .and_then(|u| match u.scheme() {
                        "smtp" | "smtps" => Ok(u),
                        other => Err(format!(
                            "unsupported scheme {other:?}; use smtp:// or smtps://"
                        )),
                    })
                    .map_err(|message| ConfigError {
                        var: "SMTP_URL",
                        message,
                    })?,
            ),
        };
        let staff_digest_to = parsed(lookup, "STAFF_DIGEST_TO", "", |s| {
            s.split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(|a| a.parse::<Mailbox>().map_err(|e| format!("{a:?}: {e}")))
                .collect()
        })?;
        let scheduler = parsed(lookup, "SCHEDULER", "on", |s| match s {
            "on" | "true" | "1" => Ok(true),
            "off" | "false" | "0" => Ok(false),
            _ => Err(format!("{s:?} is neither on nor off")),
        })?;
        let positive = |s: &str| -> Result<u64, String> {
            let v: u64 = from_str(s)?;
            if v == 0 {
                Err("must be greater than zero".into())
            } else {
                Ok(v)
            }
        };
        Ok(Self {
            database_url,
            listen: parsed(lookup, "LISTEN", "127.0.0.1:8080", from_str)?,
            admin_token: get(lookup, "ADMIN_TOKEN"),
            smtp_url,
            mail_dir: PathBuf::from(
                get(lookup, "MAIL_DIR").unwrap_or_else(|| "data/outbox".into()),
            ),
            mail_from: parsed(
                lookup,
                "MAIL_FROM",
                "Merchant Incentives <noreply@localhost>",
                from_str,
            )?,
            staff_digest_to,
            schedule_evaluate: parsed(
                lookup,
                "SCHEDULE_EVALUATE",
                "0 */15 * * * *",
                Schedule::parse,
            )?,
            schedule_merchant_weekly: parsed(
                lookup,
                "SCHEDULE_MERCHANT_WEEKLY",
                "0 0 9 * * Mon",
                Schedule::parse,
            )?,
            schedule_staff_daily: parsed(
                lookup,
                "SCHEDULE_STAFF_DAILY",
                "0 30 8 * * *",
                Schedule::parse,
            )?,
            outbox_poll: Duration::from_millis(parsed(lookup, "OUTBOX_POLL_MS", "2000", positive)?),
            scheduler,
            json_logs: get(lookup, "LOG_FORMAT").as_deref() == Some("json"),
            apply_rate_per_minute: parsed(lookup, "APPLY_RATE_PER_MINUTE", "10", |s| {
                positive(s).map(|v| v.min(u32::MAX as u64) as u32)
            })?,
            key_rate_per_second: parsed(lookup, "KEY_RATE_PER_SECOND", "50", |s| {
                positive(s).map(|v| v.min(u32::MAX as u64) as u32)
            })?,
            request_timeout: Duration::from_millis(parsed(
                lookup,
                "REQUEST_TIMEOUT_MS",
                "30000",
                positive,
            )?),
            replica: get(lookup, "REPLICA_NAME").unwrap_or_else(default_replica_name),
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }
}

fn default_replica_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(&move |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let c = with(&[]).unwrap();
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.smtp_url.is_none());
        assert_eq!(c.mail_dir, PathBuf::from("data/outbox"));
        assert!(c.scheduler);
        assert_eq!(c.outbox_poll, Duration::from_millis(2000));
        assert_eq!(c.schedule_merchant_weekly.expr, "0 0 9 * * Mon");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("DATABASE_URL", "mysql://x"),
            ("DATABASE_URL", "not a url"),
            ("LISTEN", "localhost"),
            ("SMTP_URL", "http://mail"),
            ("SCHEDULE_EVALUATE", "*/5 * * * *x"),
            ("SCHEDULE_STAFF_DAILY", "every day"),
            ("OUTBOX_POLL_MS", "0"),
            ("SCHEDULER", "maybe"),
            ("MAIL_FROM", "not an address"),
            ("STAFF_DIGEST_TO", "a@b.cn, nope"),
        ] {
            let err = with(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value}");
            assert!(err.to_string().starts_with(var));
        }
    }

    #[test]
    fn accepts_production_values() {
        let c = with(&[
            ("DATABASE_URL", "postgres://u:p@db/mi"),
            ("SMTP_URL", "smtps://user:pass@smtp.example.com"),
            (
                "STAFF_DIGEST_TO",
                "ops@example.com, Lead <lead@example.com>",
            ),
            ("SCHEDULER", "off"),
            ("SCHEDULE_EVALUATE", "*/5 * * * * *"),
        ])
        .unwrap();
        assert!(c.is_postgres());
        assert_eq!(c.staff_digest_to.len(), 2);
        assert!(!c.scheduler);
    }
}
