//! The `callflow` command: serve (the default), migrate, seed the demo, issue admin API tokens,
//! check the config.
//!
//! Exit codes: 0 success, 1 runtime failure (database unreachable, port taken, …), 2 invalid
//! configuration or usage. Failures print one line, never a backtrace.

use callflow::config::Config;
use callflow::http::api::auth::{issue_token, TokenRequest};
use callflow::startup::Application;
use callflow::store::Database;
use callflow::{seed, telemetry};
use callflow_actors::domain::{Role, StaffId};
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
    /// Manage admin API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Validate the configuration and print it (secrets redacted).
    CheckConfig,
    /// Talk to a callflow server the way Retell does.
    Retell {
        #[command(subcommand)]
        action: RetellCommand,
    },
}

#[derive(Subcommand)]
enum RetellCommand {
    /// Sign a Retell payload (webhook or function call) with the configured key, post it and
    /// print the answer.
    Send {
        /// A JSON file: a webhook (with "event") or a function call (with "name" and "args").
        file: PathBuf,
        /// Server to post to (defaults to the configured bind address).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a bearer token and print its secret (once: only its hash is stored).
    Create {
        /// Slug of the company the token belongs to.
        #[arg(long, value_name = "SLUG")]
        company: String,
        /// admin (the whole company), manager (one branch) or staff (their own callbacks).
        #[arg(long)]
        role: Role,
        /// The staff member the token acts as (required for staff).
        #[arg(long, value_name = "ID")]
        staff: Option<StaffId>,
        /// The branch (slug or id) a manager token is limited to.
        #[arg(long, value_name = "BRANCH")]
        branch: Option<String>,
        /// A label for people ("front desk laptop").
        #[arg(long)]
        name: Option<String>,
    },
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
        Command::Token { command } => token(command, &config).await?,
        Command::CheckConfig => println!("configuration is valid\n{config:#?}"),
        Command::Retell {
            action: RetellCommand::Send { file, url },
        } => {
            let url = url.unwrap_or_else(|| format!("http://{}", config.server.bind));
            let sent =
                callflow::retell::send::send(&file, &url, config.retell.api_key.expose()).await?;
            println!("POST {} -> {}\n{}", sent.url, sent.status, sent.body);
            if !(200..300).contains(&sent.status) {
                anyhow::bail!("the server answered {}", sent.status);
            }
        }
    }
    Ok(())
}

async fn token(command: TokenCommand, config: &Config) -> anyhow::Result<()> {
    let TokenCommand::Create {
        company,
        role,
        staff,
        branch,
        name,
    } = command;
    let request = TokenRequest {
        company,
        role,
        staff,
        branch,
        name,
    };
    let database = Database::connect(&config.database).await?;
    database.migrate().await?;
    let issued = issue_token(&*database.store(), &request, chrono::Utc::now()).await;
    database.close().await;
    let issued = issued?;
    // The secret alone on stdout, so scripts can capture it; the rest is for people.
    println!("{}", issued.secret);
    eprintln!(
        "token {} ({}) for {}: store the secret now, it cannot be shown again",
        issued.token.id, issued.token.role, request.company
    );
    Ok(())
}
