//! The command line: `serve` (default), `migrate`, `openapi`, `staff create`, …

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::{
    app,
    config::Config,
    db,
    services::staff::{self, Role},
};

#[derive(Parser, Debug)]
#[command(
    name = "merchant-incentives",
    version,
    about = "Merchant onboarding, GMV, incentive tiers and status reports"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document, or write openapi/openapi.{json,yaml}.
    Openapi {
        /// Write both files into this folder instead of printing JSON.
        #[arg(long)]
        write: bool,
        /// Folder for --write.
        #[arg(long, default_value = "openapi")]
        dir: PathBuf,
        /// Format when printing.
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
    /// Evaluate every active programme now (or as of an instant) and print the run.
    Evaluate {
        /// Evaluate as if it were this RFC 3339 instant, e.g. 2026-06-30T15:59:59Z.
        #[arg(long, value_parser = parse_instant)]
        as_of: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Fill the database with demo merchants, a year of GMV and programmes, then evaluate.
    Demo {
        /// How many merchants to create.
        #[arg(long, default_value_t = 300)]
        merchants: u32,
        /// Random seed, for reproducible data.
        #[arg(long, default_value_t = 618)]
        seed: u64,
    },
    /// Queue a digest now: `merchant_weekly` or `staff_daily` (sent by the dispatcher).
    Digest {
        #[arg(value_parser = parse_digest)]
        kind: crate::mail::digests::DigestKind,
        /// Make it as if it were this RFC 3339 instant (default: now).
        #[arg(long)]
        as_of: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Manage staff tokens.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum Format {
    Json,
    Yaml,
}

#[derive(Subcommand, Debug)]
pub enum StaffCommand {
    /// Create a staff token and print it (once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
}

fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("not an RFC 3339 instant ({e})"))
}

fn parse_digest(s: &str) -> Result<crate::mail::digests::DigestKind, String> {
    crate::mail::digests::DigestKind::parse(s)
        .ok_or_else(|| "kind must be merchant_weekly or staff_daily".to_string())
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "role must be admin, reviewer or analyst".to_string())
}

/// The OpenAPI document as committed: JSON and YAML.
pub fn openapi_documents() -> (String, String) {
    crate::api::document::documents().clone()
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi { write, dir, format } = &command {
        let (json, yaml) = openapi_documents();
        if *write {
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join("openapi.json"), json)?;
            std::fs::write(dir.join("openapi.yaml"), yaml)?;
            eprintln!("wrote {0}/openapi.json and {0}/openapi.yaml", dir.display());
        } else {
            match format {
                Format::Json => print!("{json}"),
                Format::Yaml => print!("{yaml}"),
            }
        }
        return Ok(());
    }
    let config = Config::from_env().map_err(|e| anyhow::anyhow!("configuration error: {e}"))?;
    crate::telemetry::init(config.json_logs);
    let database = db::connect_with(
        &config.database_url,
        config.database_busy_timeout,
        config.database_acquire_timeout,
    )
    .await?;
    db::migrate(&database).await?;
    crate::services::programs::seed(&database).await?;
    match command {
        Command::Openapi { .. } => unreachable!("handled above"),
        Command::Migrate => {
            eprintln!("migrations applied to {}", db::redact(&config.database_url));
            Ok(())
        }
        Command::Staff {
            command: StaffCommand::Create { name, role },
        } => {
            let (row, token) = staff::create(&database, &name, role).await?;
            eprintln!(
                "created staff token {} ({}, {}); it is shown only now:",
                row.id,
                row.name,
                role.as_str()
            );
            println!("{token}");
            Ok(())
        }
        Command::Evaluate { as_of } => crate::demo::evaluate_cli(&database, &config, as_of).await,
        Command::Demo { merchants, seed } => {
            crate::demo::run(&database, &config, merchants, seed).await
        }
        Command::Digest { kind, as_of } => {
            let q = crate::mail::digests::run_digest(
                &database,
                &config,
                kind,
                as_of.unwrap_or_else(chrono::Utc::now),
            )
            .await?;
            println!(
                "{}: {} recipients, {} queued, {} already queued",
                kind.as_str(),
                q.recipients,
                q.queued,
                q.duplicates
            );
            Ok(())
        }
        Command::Serve => serve(config, database).await,
    }
}

async fn serve(config: Config, database: sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    let shutdown = shutdown_signal()?;
    let listen = config.listen;
    let replica = match &config.database_read_url {
        Some(url) => Some(
            db::connect_with(
                url,
                config.database_busy_timeout,
                config.database_acquire_timeout,
            )
            .await
            .context("DATABASE_READ_URL: cannot connect to the read replica")?,
        ),
        None => None,
    };
    let mut state = app::AppState::new(database, config);
    if let Some(replica) = replica {
        tracing::info!("reads that tolerate lag go to the replica");
        state = state.with_replica(replica);
    }
    let touches = (state.key_touches.clone(), state.db.clone());
    let mut scheduler = if state.config.scheduler {
        Some(crate::jobs::start_scheduler(&state.job_context()).await?)
    } else {
        None
    };
    let acceptor = app::bind(listen)
        .await
        .with_context(|| format!("LISTEN: cannot bind {listen}"))?;
    tracing::info!(%listen, docs = %format!("http://{listen}/docs"), "serving");
    // The outbox dispatcher runs on every replica: its claims keep replicas from double-sending.
    let mailer = crate::mail::dispatcher::Mailer::from_config(&state.config)?;
    let dispatcher = tokio::spawn(crate::mail::dispatcher::run(
        state.db.clone(),
        mailer,
        state.config.outbox_poll,
        stopped(shutdown.clone()),
    ));
    // So does the webhook dispatcher, for the same reason.
    let deliverer = crate::services::webhooks::deliver::Deliverer::from_config(
        &state.config,
        state.sealer.clone(),
    )?;
    let webhooks = tokio::spawn(crate::services::webhooks::deliver::run(
        state.db.clone(),
        deliverer,
        state.config.outbox_poll,
        stopped(shutdown.clone()),
    ));
    // Folding the GMV structure's changes is safe on every replica too.
    let folds = tokio::spawn(crate::services::segments::run_folds(
        state.db.clone(),
        stopped(shutdown.clone()),
    ));
    app::serve_on(acceptor, state, stopped(shutdown)).await?;
    touches.0.flush(&touches.1).await;
    if let Some(s) = scheduler.as_mut() {
        let _ = s.shutdown().await;
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), dispatcher).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), folds).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), webhooks).await;
    tracing::info!("stopped");
    Ok(())
}

/// The shutdown every task waits for (with [`stopped`]): becomes `true` once SIGINT or SIGTERM
/// arrives. The handlers are installed by this call, before the server starts, so a signal that
/// arrives while it is still starting is not missed (a handler installed later would never see
/// it, and the process would not stop).
fn shutdown_signal() -> anyhow::Result<tokio::sync::watch::Receiver<bool>> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        )
    };
    tokio::spawn(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down; finishing in-flight requests");
        let _ = tx.send(true);
    });
    Ok(rx)
}

/// Resolves once the shutdown has begun.
async fn stopped(mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
