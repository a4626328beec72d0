//! SIGHUP reloads the TLS certificate and the token files of the real binary: new
//! connections get the renewed certificate and only the new tokens pass, while a
//! broken renewal is logged and leaves what was in use.

use std::path::Path;
use std::time::Duration;

use crate::access::certificates;
use crate::support::binary::Tracery;

const OLD_TOKEN: &str = "query-token-before-0123456789";
const NEW_TOKEN: &str = "query-token-after-0123456789";
const LAST_TOKEN: &str = "query-token-last-0123456789";

/// An HTTPS client that trusts only the CA certificate at `ca`, with a fresh
/// connection per request.
fn https_client(ca: &Path) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// The status of `GET /api/services` with `token`, or the transport error.
async fn services(client: &reqwest::Client, query: &str, token: &str) -> Result<u16, String> {
    client
        .get(format!("https://{query}/api/services"))
        .bearer_auth(token)
        .send()
        .await
        .map(|response| response.status().as_u16())
        .map_err(|error| format!("{error:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate_and_tokens_and_keeps_them_on_a_bad_renewal() {
    let dir = tempfile::tempdir().unwrap();
    let (old_dir, new_dir) = (dir.path().join("old"), dir.path().join("new"));
    std::fs::create_dir_all(&old_dir).unwrap();
    std::fs::create_dir_all(&new_dir).unwrap();
    let (old_ca, old_cert, old_key) = certificates(&old_dir);
    let (new_ca, new_cert, new_key) = certificates(&new_dir);
    let (cert_file, key_file, tokens_file) = (
        dir.path().join("live.pem"),
        dir.path().join("live.key"),
        dir.path().join("query.tokens"),
    );
    std::fs::copy(&old_cert, &cert_file).unwrap();
    std::fs::copy(&old_key, &key_file).unwrap();
    std::fs::write(&tokens_file, format!("{OLD_TOKEN}\n")).unwrap();
    let data_dir = dir.path().join("data");
    let args: Vec<String> = [
        "--tls-cert-file".as_ref(),
        cert_file.as_os_str(),
        "--tls-key-file".as_ref(),
        key_file.as_os_str(),
        "--query-token-file".as_ref(),
        tokens_file.as_os_str(),
    ]
    .iter()
    .map(|arg| arg.to_str().unwrap().to_owned())
    .collect();
    let mut server = Tracery::start(&data_dir, &args, &[]).await;
    let query = server.query.clone();
    let (trusts_old, trusts_new) = (https_client(&old_ca), https_client(&new_ca));

    assert_eq!(services(&trusts_old, &query, OLD_TOKEN).await, Ok(200));
    assert!(
        services(&trusts_new, &query, OLD_TOKEN).await.is_err(),
        "the renewed certificate is not in use before SIGHUP"
    );

    // Renewal: both files replaced, one token swapped for another, then SIGHUP.
    std::fs::copy(&new_cert, &cert_file).unwrap();
    std::fs::copy(&new_key, &key_file).unwrap();
    std::fs::write(&tokens_file, format!("{NEW_TOKEN}\n")).unwrap();
    server.hangup();
    for needle in ["TLS certificate reloaded", "tokens reloaded"] {
        server
            .wait_for_line(needle, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no {needle:?} in the log after SIGHUP"));
    }
    assert_eq!(services(&trusts_new, &query, NEW_TOKEN).await, Ok(200));
    assert_eq!(
        services(&trusts_new, &query, OLD_TOKEN).await,
        Ok(401),
        "the token removed from the file no longer passes"
    );
    // A new client: one that shook hands before may resume its TLS session,
    // which presents no certificate.
    assert!(
        services(&https_client(&old_ca), &query, NEW_TOKEN)
            .await
            .is_err(),
        "new connections no longer get the old certificate"
    );

    // A broken renewal (a key that doesn't match the certificate) keeps the
    // certificate in use; the token file, valid, is still reloaded.
    std::fs::copy(&old_key, &key_file).unwrap();
    std::fs::write(&tokens_file, format!("{LAST_TOKEN}\n")).unwrap();
    server.hangup();
    let refused = server
        .wait_for_line("TLS certificate not reloaded", Duration::from_secs(10))
        .await
        .expect("the broken renewal is logged");
    assert!(refused.contains("does not match"), "{refused}");
    server
        .wait_for_line("tokens reloaded", Duration::from_secs(10))
        .await
        .expect("the token file is reloaded");
    assert_eq!(services(&trusts_new, &query, LAST_TOKEN).await, Ok(200));

    // An empty token file keeps the tokens in use.
    std::fs::write(&tokens_file, "").unwrap();
    server.hangup();
    server
        .wait_for_line("tokens not reloaded", Duration::from_secs(10))
        .await
        .expect("the empty token file is logged");
    assert_eq!(services(&trusts_new, &query, LAST_TOKEN).await, Ok(200));

    let status = server.terminate().await;
    assert!(status.success(), "tracery exited with {status}");
}
