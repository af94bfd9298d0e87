//! `seedship server`: runs the seedship server.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use seedship_server::{ServerConfig, ServerOptions, TlsMode};

use crate::{Context, output};

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Data directory: SQLite metadata, local object storage, admin-credentials.
    #[arg(long)]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8420")]
    listen: SocketAddr,
    /// TOML configuration file selecting PostgreSQL metadata and Azure/S3 storage.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate (made once, kept in <data-dir>/tls/).
    #[arg(long, conflicts_with = "tls_cert")]
    tls: bool,
    /// Serve HTTPS with this certificate chain (PEM, server certificate first); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The import service's public key file (from `seedship keygen`): the server holds no
    /// private key; `import receive` takes it on the operator's machine. Default: a key pair in
    /// the data directory (or the config file's import_service_key), made on first start.
    #[arg(long)]
    service_public_key: Option<PathBuf>,
}

pub fn run(ctx: &Context, args: ServerArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            ServerConfig::parse(&text).with_context(|| format!("parsing config file {}", path.display()))?
        }
        None => ServerConfig::default(),
    };
    if let Some(public) = &args.service_public_key {
        config.import_service_public_key = Some(public.clone());
    }
    let tls = match (args.tls, args.tls_cert, args.tls_key) {
        (_, Some(cert), Some(key)) => TlsMode::Files { cert, key },
        (true, _, _) => TlsMode::SelfSigned,
        _ => TlsMode::Off,
    };
    let log = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEEDSHIP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person watching, never in a log file or journald.
        .with_ansi(std::io::stderr().is_terminal())
        .finish();
    // Not `init()`: that would also claim the `log` crate's logger, which `main` gave to
    // the warnings of the repository libraries.
    tracing::subscriber::set_global_default(log).context("installing the server's log")?;
    let options = ServerOptions {
        data_dir: args.data_dir.clone(),
        listen: args.listen,
        tls,
        config,
        test_clock: std::env::var_os("SEEDSHIP_TEST_CLOCK").is_some_and(|v| v == "1"),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let json = ctx.json;
    runtime
        .block_on(seedship_server::serve(options, move |ready| {
            let admin = ready.admin_credentials.map(|p| p.display().to_string());
            let certificate = ready.certificate.map(|p| p.display().to_string());
            let doc = serde_json::json!({
                "message_type": "server_ready", "listen": ready.address.to_string(), "url": ready.url,
                "admin_credentials": admin, "certificate": certificate,
            });
            // Ready line for scripts and tests; nothing else goes to stdout.
            let _ = output::emit(json, &doc, || {
                let mut line = format!("listening on {}", ready.url);
                if let Some(path) = &admin {
                    line.push_str(&format!("; admin credentials written to {path}"));
                }
                if let Some(path) = &certificate {
                    line.push_str(&format!("; certificate {path}"));
                }
                line
            });
        }))
        .with_context(|| format!("server with data directory {}", args.data_dir.display()))
}
