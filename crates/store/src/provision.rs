//! The requests object_store does not make: creating an Azure container or an S3 bucket.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{Error, Result};

/// Azure Blob REST API version used for `Create Container`.
const AZURE_API_VERSION: &str = "2021-08-06";

/// Creates `container` in an Azure storage account (or Azurite) unless it exists.
///
/// `account_url` is the URL blobs of the account live under: `https://<account>.blob...` or,
/// path-style for emulators, `http://127.0.0.1:10000/<account>`.
pub(crate) async fn azure_create_container(
    account_url: &str,
    account: &str,
    access_key: &str,
    container: &str,
) -> Result<()> {
    let what = format!("Azure container {container}");
    let fail = |message: String| Error::Provision {
        what: what.clone(),
        message,
    };
    let url = reqwest::Url::parse(&format!(
        "{}/{container}?restype=container",
        account_url.trim_end_matches('/')
    ))
    .map_err(|e| fail(format!("bad endpoint {account_url}: {e}")))?;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    // SharedKey string to sign: verb, eleven empty standard headers (Content-Length is empty
    // for a zero-length body), canonicalized x-ms-* headers, canonicalized resource.
    let string_to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{AZURE_API_VERSION}\n/{account}{}\nrestype:container",
        url.path()
    );
    let key = STANDARD
        .decode(access_key)
        .map_err(|_| fail("access key is not base64".to_owned()))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| fail(e.to_string()))?;
    mac.update(string_to_sign.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    let response = reqwest::Client::new()
        .put(url)
        .header("x-ms-date", date)
        .header("x-ms-version", AZURE_API_VERSION)
        .header("Content-Length", "0")
        .header("Authorization", format!("SharedKey {account}:{signature}"))
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    accept_created_or_exists(response, reqwest::StatusCode::CONFLICT, fail).await
}

/// Creates `bucket` with an unsigned `PUT /<bucket>` (S3 emulators such as moto accept it).
pub(crate) async fn s3_create_bucket(endpoint: &str, bucket: &str) -> Result<()> {
    let what = format!("S3 bucket {bucket}");
    let fail = |message: String| Error::Provision {
        what: what.clone(),
        message,
    };
    let url = format!("{}/{bucket}", endpoint.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .put(&url)
        .send()
        .await
        .map_err(|e| fail(format!("{url}: {e}")))?;
    accept_created_or_exists(response, reqwest::StatusCode::CONFLICT, fail).await
}

async fn accept_created_or_exists(
    response: reqwest::Response,
    exists: reqwest::StatusCode,
    fail: impl Fn(String) -> Error,
) -> Result<()> {
    let status = response.status();
    if status.is_success() || status == exists {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(fail(format!(
        "HTTP {status}: {}",
        body.chars().take(300).collect::<String>()
    )))
}
