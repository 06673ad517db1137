//! `insights keys`: create, list and revoke API keys of the HTTP service.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use insights_ingest::StoreLocation;
use insights_ingest::evidence::{SigningKeyPair, publish_public_key, stored_public_keys};

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
    /// The Ed25519 key pair that signs the table's digests and export manifests.
    Signing {
        #[command(subcommand)]
        command: SigningCommand,
    },
}

#[derive(Subcommand)]
enum SigningCommand {
    /// Make a signing key pair: the private key goes to --out (keep it outside the store; point
    /// INSIGHTS_SIGNING_KEY_FILE at it for ingest, serve and the maintenance commands), the
    /// public key into the store and to standard output (give that copy to your auditors).
    Init {
        /// Where to write the private key (PKCS#8 PEM, mode 0600).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Overwrite --out if it exists.
        #[arg(long)]
        force: bool,
    },
    /// The public keys stored in the store, with their fingerprints.
    Show,
}

async fn signing(store: &StoreLocation, command: SigningCommand) -> anyhow::Result<ExitCode> {
    match command {
        SigningCommand::Init { out, force } => {
            if let StoreLocation::Local(dir) = store
                && let Some(parent) = std::path::absolute(&out)?.parent()
                && parent.starts_with(dir)
            {
                anyhow::bail!(
                    "{}: the private key must live outside the store {} (whoever can read the \
                     store could otherwise sign in its name)",
                    out.display(),
                    dir.display()
                );
            }
            let pair = SigningKeyPair::generate()?;
            let pem = pair.to_pem()?;
            write_private_key(&out, pem.as_bytes(), force)?;
            let public = pair.public();
            let stored = publish_public_key(store, &public).await?;
            print!("{}", public.to_pem()?);
            eprintln!(
                "signing key written to {}; its public key (fingerprint {}) is stored in {store} \
                 as {stored}.\nSet INSIGHTS_SIGNING_KEY_FILE={} for the commands that write the \
                 store, and give auditors the public key above (insights verify --public-key).",
                out.display(),
                public.fingerprint(),
                out.display()
            );
        }
        SigningCommand::Show => {
            let keys = stored_public_keys(store).await?;
            if keys.is_empty() {
                eprintln!(
                    "no signing key is stored in {store}; make one with `insights keys signing init`"
                );
            }
            for key in keys {
                println!("{}", key.fingerprint());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a private key readable by its owner only.
fn write_private_key(path: &std::path::Path, pem: &[u8], force: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{}: already exists; pass --force to replace it",
                path.display()
            )
        } else {
            anyhow::anyhow!("{}: cannot create the key file: {e}", path.display())
        }
    })?;
    file.write_all(pem)
        .and_then(|()| file.sync_all())
        .map_err(|e| anyhow::anyhow!("{}: cannot write the key: {e}", path.display()))?;
    Ok(())
}

pub async fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    let store = StoreLocation::parse(&args.store.store)?;
    if let KeysCommand::Signing { command } = args.command {
        return signing(&store, command).await;
    }
    let keys = KeyStore::open(&store)?;
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
        KeysCommand::Signing { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}
