//! Every setting, read once from the environment (and `.env`), typed and validated.
//! A bad value stops start-up with one line naming the variable.

use std::{net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use clap::{
    ArgAction, CommandFactory, FromArgMatches, Parser,
    error::{ContextKind, ContextValue},
};
use croner::{Cron, parser::CronParser};
use lettre::message::Mailbox;
use url::Url;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/merchant-incentives.db?mode=rwc";

/// A configuration value that could not be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: String,
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

/// Every setting: one field each, named by its environment variable, with its default and the
/// parser that types and validates it.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "merchant-incentives",
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct Config {
    /// SQLite or PostgreSQL.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, value_parser = database_url)]
    pub database_url: String,
    /// HTTP address.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8080", value_parser = from_str::<SocketAddr>)]
    pub listen: SocketAddr,
    /// Bootstrap admin bearer token.
    #[arg(long, env = "ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// `smtp://` or `smtps://` relay; without it mail goes to `MAIL_DIR` as `.eml` files.
    #[arg(long, env = "SMTP_URL", value_parser = smtp_url)]
    pub smtp_url: Option<Url>,
    /// Where the file transport writes.
    #[arg(long, env = "MAIL_DIR", default_value = "data/outbox")]
    pub mail_dir: PathBuf,
    /// Sender of every email.
    #[arg(long, env = "MAIL_FROM", default_value = "Merchant Incentives <noreply@localhost>", value_parser = from_str::<Mailbox>)]
    pub mail_from: Mailbox,
    /// Comma-separated recipients of the staff daily digest.
    // A qualified `Vec` is one value parsed whole, not a repeated argument.
    #[arg(long, env = "STAFF_DIGEST_TO", default_value = "", value_parser = mailboxes)]
    pub staff_digest_to: ::std::vec::Vec<Mailbox>,
    /// Language of the staff daily digest: `zh-CN` or `en`.
    #[arg(long, env = "STAFF_DIGEST_LOCALE", default_value = entity::enums::Locale::ZhCn.as_str(), value_parser = locale)]
    pub staff_digest_locale: entity::enums::Locale,
    /// Evaluation schedule.
    #[arg(long, env = "SCHEDULE_EVALUATE", default_value = "0 */15 * * * *", value_parser = Schedule::parse)]
    pub schedule_evaluate: Schedule,
    /// Merchants' weekly report schedule.
    #[arg(long, env = "SCHEDULE_MERCHANT_WEEKLY", default_value = "0 0 9 * * Mon", value_parser = Schedule::parse)]
    pub schedule_merchant_weekly: Schedule,
    /// Staff daily digest schedule.
    #[arg(long, env = "SCHEDULE_STAFF_DAILY", default_value = "0 30 8 * * *", value_parser = Schedule::parse)]
    pub schedule_staff_daily: Schedule,
    /// PostgreSQL: when the `partitions` job creates the GMV tables' monthly partitions ahead.
    #[arg(long, env = "SCHEDULE_PARTITIONS", default_value = "0 0 3 * * *", value_parser = Schedule::parse)]
    pub schedule_partitions: Schedule,
    /// PostgreSQL: how many months after the current one have their partitions ready (1–60).
    #[arg(long, env = "PARTITION_MONTHS_AHEAD", default_value = "3", value_parser = clap::value_parser!(u32).range(1..=60))]
    pub partition_months_ahead: u32,
    /// How often the dispatcher looks for mail to send, in milliseconds.
    #[arg(long = "outbox-poll-ms", env = "OUTBOX_POLL_MS", default_value = "2000", value_parser = millis)]
    pub outbox_poll: Duration,
    /// `off` runs an API-only replica.
    #[arg(long, env = "SCHEDULER", default_value = "on", value_parser = on_off, action = ArgAction::Set)]
    pub scheduler: bool,
    /// `json` for structured JSON logs.
    #[arg(long = "log-format", env = "LOG_FORMAT", default_value = "text", value_parser = is_json, action = ArgAction::Set)]
    pub json_logs: bool,
    /// Applications accepted per client address per minute on `POST /merchants`.
    #[arg(long, env = "APPLY_RATE_PER_MINUTE", default_value = "10", value_parser = positive_u32)]
    pub apply_rate_per_minute: u32,
    /// Requests per API key or staff token per second (burst: twice that).
    #[arg(long, env = "KEY_RATE_PER_SECOND", default_value = "50", value_parser = positive_u32)]
    pub key_rate_per_second: u32,
    /// Longest a request may take before the server answers 503 and drops it, in milliseconds.
    #[arg(long = "request-timeout-ms", env = "REQUEST_TIMEOUT_MS", default_value = "30000", value_parser = millis)]
    pub request_timeout: Duration,
    /// How long a run's lease lasts; a running run renews it every third of that. A run whose
    /// process died is marked failed once its lease has run out. Milliseconds.
    #[arg(long = "run-lease-ms", env = "RUN_LEASE_MS", default_value = "30000", value_parser = millis)]
    pub run_lease: Duration,
    /// SQLite only: how long a statement waits for another connection's write lock before it
    /// fails as busy (the whole transaction is then retried, a few times), in milliseconds.
    #[arg(long = "database-busy-timeout-ms", env = "DATABASE_BUSY_TIMEOUT_MS", default_value = "5000", value_parser = millis)]
    pub database_busy_timeout: Duration,
    /// Snapshots older than this many days are thinned to each day's last one per subject
    /// (after each evaluation tick, once across replicas).
    #[arg(long, env = "SNAPSHOT_RETENTION_DAYS", default_value = "35", value_parser = positive_u32)]
    pub snapshot_retention_days: u32,
    /// A streaming replica of `DATABASE_URL` (PostgreSQL) for reads that tolerate lag:
    /// leaderboards, summaries, insights, history and reports.
    #[arg(long, env = "DATABASE_READ_URL")]
    pub database_read_url: Option<String>,
    /// A replica further behind than this is skipped for the primary, in milliseconds.
    #[arg(long = "read-max-lag-ms", env = "READ_MAX_LAG_MS", default_value = "5000", value_parser = millis)]
    pub read_max_lag: Duration,
    /// Longest a request waits for a database connection (and a connection attempt takes)
    /// before it answers 503 `database_unavailable`, in milliseconds.
    #[arg(long = "database-acquire-timeout-ms", env = "DATABASE_ACQUIRE_TIMEOUT_MS", default_value = "5000", value_parser = millis)]
    pub database_acquire_timeout: Duration,
    /// `true` lets webhooks reach loopback, private, link-local and multicast addresses (tests,
    /// on-premises receivers); otherwise such targets are refused at registration and delivery.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE", default_value = "false", value_parser = on_off, action = ArgAction::Set)]
    pub webhook_allow_private: bool,
    /// The key webhook signing secrets are encrypted with: 64 hex digits (32 bytes). Unset, the
    /// server generates one and keeps it in the database, shared by every replica.
    #[arg(long = "webhook-secret-key", env = "WEBHOOK_SECRET_KEY", value_parser = hex_key)]
    pub webhook_secret_key: Option<WebhookKey>,
    /// How long one webhook delivery may take (connect, send and answer), in milliseconds.
    #[arg(long = "webhook-timeout-ms", env = "WEBHOOK_TIMEOUT_MS", default_value = "10000", value_parser = millis)]
    pub webhook_timeout: Duration,
    /// How long a dashboard session lasts after signing in, in minutes.
    #[arg(long = "dashboard-session-minutes", env = "DASHBOARD_SESSION_MINUTES", default_value = "480", value_parser = positive_u32)]
    pub dashboard_session_minutes: u32,
    /// Name of this replica in the job-run ledger (default: host name and pid).
    #[arg(long = "replica-name", env = "REPLICA_NAME", default_value_t = default_replica_name())]
    pub replica: String,
}

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Config {
    /// Reads the process environment (after loading `.env` if present).
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Reads each setting's variable through `lookup`; tests pass a map instead of the
    /// environment. Values are trimmed, and an empty one counts as unset.
    pub fn from_lookup(lookup: Lookup) -> Result<Self, ConfigError> {
        // The values come from `lookup` alone, handed to clap as `--name=value`, so an empty
        // variable falls back to its default and tests never see the process environment.
        let declared = Self::command();
        let args: Vec<String> = declared
            .get_arguments()
            .filter_map(|arg| {
                let (var, long) = (arg.get_env()?.to_str()?, arg.get_long()?);
                let value = lookup(var)?;
                let value = value.trim();
                (!value.is_empty()).then(|| format!("--{long}={value}"))
            })
            .collect();
        let mut command = declared.clone().mut_args(|arg| arg.env(None));
        let matches = command
            .try_get_matches_from_mut(args)
            .map_err(|e| config_error(&declared, &e))?;
        Self::from_arg_matches(&matches).map_err(|e| config_error(&declared, &e))
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }
}

/// Names the variable behind clap's error and keeps the parser's own one-line message.
fn config_error(command: &clap::Command, e: &clap::Error) -> ConfigError {
    let var = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg
            .strip_prefix("--")
            .and_then(|a| a.split([' ', '=']).next())
            .and_then(|long| command.get_arguments().find(|a| a.get_long() == Some(long)))
            .and_then(|a| a.get_env())
            .map(|v| v.to_string_lossy().into_owned()),
        _ => None,
    };
    let message = std::error::Error::source(e)
        .map(ToString::to_string)
        .unwrap_or_else(|| e.kind().to_string());
    ConfigError {
        var: var.unwrap_or_else(|| "configuration".into()),
        message,
    }
}

fn from_str<T: FromStr>(s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>()
        .map_err(|e| format!("cannot parse {s:?}: {e}"))
}

fn database_url(s: &str) -> Result<String, String> {
    let url = Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "sqlite" | "postgres" | "postgresql" => Ok(s.to_string()),
        other => Err(format!(
            "unsupported scheme {other:?}; use sqlite:// or postgres://"
        )),
    }
}

fn smtp_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| e.to_string())?;
    match url.scheme() {
        "smtp" | "smtps" => Ok(url),
        other => Err(format!(
            "unsupported scheme {other:?}; use smtp:// or smtps://"
        )),
    }
}

fn mailboxes(s: &str) -> Result<Vec<Mailbox>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| a.parse::<Mailbox>().map_err(|e| format!("{a:?}: {e}")))
        .collect()
}

fn locale(s: &str) -> Result<entity::enums::Locale, String> {
    entity::enums::Locale::parse(s).ok_or_else(|| format!("{s:?} is not zh-CN or en"))
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err(format!("{s:?} is neither on nor off")),
    }
}

fn is_json(s: &str) -> Result<bool, String> {
    Ok(s == "json")
}

/// A 32-byte key, kept out of `Debug` output.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct WebhookKey(pub [u8; 32]);

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookKey(…)")
    }
}

fn hex_key(s: &str) -> Result<WebhookKey, String> {
    let bytes = hex::decode(s).map_err(|_| "expected 64 hex digits".to_string())?;
    bytes
        .try_into()
        .map(WebhookKey)
        .map_err(|_| "expected 64 hex digits (32 bytes)".to_string())
}

fn positive(s: &str) -> Result<u64, String> {
    match from_str::<u64>(s)? {
        0 => Err("must be greater than zero".into()),
        v => Ok(v),
    }
}

fn positive_u32(s: &str) -> Result<u32, String> {
    positive(s).map(|v| u32::try_from(v).unwrap_or(u32::MAX))
}

fn millis(s: &str) -> Result<Duration, String> {
    positive(s).map(Duration::from_millis)
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
            ("SCHEDULE_MERCHANT_WEEKLY", "0 0 9 * *"),
            ("APPLY_RATE_PER_MINUTE", "0"),
            ("KEY_RATE_PER_SECOND", "-1"),
            ("REQUEST_TIMEOUT_MS", "soon"),
        ] {
            let err = with(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value}");
            assert!(err.to_string().starts_with(var));
        }
    }

    #[test]
    fn errors_are_one_line_with_the_parser_message() {
        let err = with(&[("OUTBOX_POLL_MS", "0")]).unwrap_err();
        assert_eq!(err.to_string(), "OUTBOX_POLL_MS: must be greater than zero");
        let err = with(&[("LISTEN", "nowhere")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "LISTEN: cannot parse \"nowhere\": invalid socket address syntax"
        );
    }

    #[test]
    fn empty_values_are_unset_and_values_are_trimmed() {
        let c = with(&[
            ("ADMIN_TOKEN", "   "),
            ("SMTP_URL", ""),
            ("LISTEN", " 0.0.0.0:9000 "),
            ("REPLICA_NAME", "api-1"),
            ("LOG_FORMAT", "json"),
            ("KEY_RATE_PER_SECOND", "99999999999"),
        ])
        .unwrap();
        assert!(
            c.admin_token.is_none(),
            "an empty token never authenticates"
        );
        assert!(c.smtp_url.is_none());
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.replica, "api-1");
        assert!(c.json_logs);
        assert_eq!(c.key_rate_per_second, u32::MAX);
        assert!(!with(&[("LOG_FORMAT", "text")]).unwrap().json_logs);
        assert!(with(&[]).unwrap().staff_digest_to.is_empty());
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
