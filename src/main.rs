//! The `callflow` command: serve (the default), migrate, seed the demo, check the config.
//!
//! Exit codes: 0 success, 1 runtime failure (database unreachable, port taken, …), 2 invalid
//! configuration or usage. Failures print one line, never a backtrace.

use callflow::config::Config;
use callflow::startup::Application;
use callflow::store::Database;
use callflow::{seed, telemetry};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "callflow",
    version,
    about = "Real-time call orchestration for AI phone agents on Retell AI"
)]
struct Cli {
    /// Configuration file (defaults to ./config.toml when present, else built-in defaults).
    #[arg(long, global = true, env = "CALLFLOW_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default): migrates, seeds the demo into an empty database, serves HTTP.
    Serve,
    /// Apply database migrations and exit.
    Migrate {
        /// Revert every migration instead (drops all callflow tables).
        #[arg(long)]
        revert: bool,
    },
    /// Write seed data and exit.
    Seed {
        /// The demo company "Zahnarztpraxis Dr. Müller" (idempotent).
        #[arg(long, required = true)]
        demo: bool,
    },
    /// Validate the configuration and print it (secrets redacted).
    CheckConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let file = cli.config.clone().or_else(|| {
        let default = PathBuf::from("config.toml");
        default.exists().then_some(default)
    });
    let config = match Config::load(file.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.logging);
    let result =
        actix_web::rt::System::new().block_on(run(cli.command.unwrap_or(Command::Serve), config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            Application::build(config)
                .await?
                .run_until_stopped()
                .await?
        }
        Command::Migrate { revert } => {
            let database = Database::connect(&config.database).await?;
            if revert {
                database.migrate_down().await?;
                println!(
                    "reverted all migrations on {}",
                    config.database.redacted_url()
                );
            } else {
                database.migrate().await?;
                println!("migrations applied on {}", config.database.redacted_url());
            }
            database.close().await;
        }
        Command::Seed { demo: _ } => {
            let database = Database::connect(&config.database).await?;
            database.migrate().await?;
            let summary = seed::seed_demo(&*database.store()).await?;
            println!(
                "seeded \"Zahnarztpraxis Dr. Müller\": {} branches, {} staff, {} services, {} customers",
                summary.branches, summary.staff, summary.services, summary.customers
            );
            database.close().await;
        }
        Command::CheckConfig => println!("configuration is valid\n{config:#?}"),
    }
    Ok(())
}
