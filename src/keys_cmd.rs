//! `insights keys`: create, list and revoke API keys of the HTTP service.

use std::process::ExitCode;

use clap::Subcommand;

use insights_ingest::StoreLocation;

use crate::StoreArgs;
use insights_server::keys::{ALL_ORGS, KeyKind, KeyStore, Role};

/// Arguments of `insights keys`.
#[derive(clap::Args)]
pub struct KeysArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: KeysCommand,
}

/// What a key may do.
#[derive(Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    /// Only `POST /api/v1/ingest`.
    Ingest,
    /// Only queries, exports, views and enrichment.
    Read,
    /// Everything.
    Admin,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Ingest => Role::Ingest,
            RoleArg::Read => Role::Read,
            RoleArg::Admin => Role::Admin,
        }
    }
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it (the only time it is shown; only its hash is stored).
    Create {
        /// The organization the key belongs to, or * for every organization (such a key must
        /// name the organization in x-org-id).
        #[arg(long)]
        org: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long, default_value = "")]
        name: String,
        /// Create a service account instead: prints `CLIENT_ID:CLIENT_SECRET`, which
        /// `POST /oauth2/token` (HTTP Basic, `grant_type=client_credentials`) exchanges for
        /// bearer tokens valid for an hour, as JumpCloud's service accounts are.
        #[arg(long)]
        service_account: bool,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by its id.
    Revoke { id: String },
}

pub async fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    let keys = KeyStore::open(&StoreLocation::parse(&args.store.store)?)?;
    match args.command {
        KeysCommand::Create {
            org,
            role,
            name,
            service_account,
        } => {
            let kind = if service_account {
                KeyKind::ServiceAccount
            } else {
                KeyKind::ApiKey
            };
            let (record, key) = keys.create(&org, role.into(), &name, kind).await?;
            println!("{key}");
            let scope = if record.organization == ALL_ORGS {
                "every organization".to_owned()
            } else {
                format!("organization {}", record.organization)
            };
            let what = match kind {
                KeyKind::ApiKey => "key",
                KeyKind::ServiceAccount => "service account (client id:client secret)",
            };
            eprintln!(
                "{what} {} ({:?}) for {scope}; it is not shown again",
                record.id, record.role
            );
        }
        KeysCommand::List => {
            for key in keys.list().await? {
                let state = key
                    .revoked
                    .as_deref()
                    .map_or("active".to_owned(), |at| format!("revoked {at}"));
                let kind = match key.kind {
                    KeyKind::ApiKey => "api-key",
                    KeyKind::ServiceAccount => "service",
                };
                println!(
                    "{:<16} {kind:<8} {:<7} {:<26} {:<20} {}  {state}",
                    key.id,
                    format!("{:?}", key.role).to_lowercase(),
                    key.organization,
                    key.name,
                    key.created
                );
            }
        }
        KeysCommand::Revoke { id } => {
            let record = keys.revoke(&id).await?;
            println!("revoked key {} of {}", record.id, record.organization);
        }
    }
    Ok(ExitCode::SUCCESS)
}
