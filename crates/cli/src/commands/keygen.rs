//! `seedship keygen`: an X25519 key pair for the import service (or a user's recovery key).

use crate::{Context, output};
use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Writes PREFIX.key (private, mode 0600) and PREFIX.pub; refuses to overwrite.
    #[arg(long, value_name = "PREFIX")]
    out: PathBuf,
}

pub fn run(args: KeygenArgs, ctx: &Context) -> anyhow::Result<()> {
    let (secret, public) = seedship_drive::write_keypair(&args.out)
        .with_context(|| format!("writing key pair {}", args.out.display()))?;
    let doc = serde_json::json!({
        "message_type": "keygen",
        "private_key_file": secret,
        "public_key_file": public,
    });
    output::emit(ctx.json, &doc, || {
        format!(
            "private key: {} (keep it secret; mode 0600)\npublic key:  {}",
            secret.display(),
            public.display()
        )
    })
}
