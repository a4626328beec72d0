//! `tracery healthcheck`: asks a running server whether it is ready, for container
//! health checks in images without curl. Exit status 0 means ready.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// How long the probe waits for an answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("no answer from {url}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}: {body}")]
    NotReady {
        url: String,
        status: u16,
        body: String,
    },
}

/// The readiness URL of a server whose admin port listens on `admin_addr` (over
/// TLS when `tls`); a wildcard address is probed on loopback.
pub fn ready_url(admin_addr: SocketAddr, tls: bool) -> String {
    let ip = match admin_addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if tls { "https" } else { "http" };
    format!(
        "{scheme}://{}/health/ready",
        SocketAddr::new(ip, admin_addr.port())
    )
}

/// `Ok` when `url` answers 200 within `timeout`.
pub async fn probe(url: &str, timeout: Duration) -> Result<(), HealthcheckError> {
    let unreachable = |source| HealthcheckError::Unreachable {
        url: url.to_owned(),
        source,
    };
    // The probe reads one status code from the server it runs beside and sends
    // nothing secret, so it does not check the certificate: the server's may be
    // issued for a public name, not for loopback.
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .danger_accept_invalid_certs(true)
        .build()
        .map_err(unreachable)?;
    let response = client.get(url).send().await.map_err(unreachable)?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(HealthcheckError::NotReady {
        url: url.to_owned(),
        status: status.as_u16(),
        body: body.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_probed_on_loopback() {
        let url = |addr: &str| ready_url(addr.parse().expect("an address"), false);
        assert_eq!(url("0.0.0.0:14269"), "http://127.0.0.1:14269/health/ready");
        assert_eq!(url("[::]:14269"), "http://[::1]:14269/health/ready");
        assert_eq!(url("10.1.2.3:9"), "http://10.1.2.3:9/health/ready");
        assert_eq!(
            ready_url("0.0.0.0:14269".parse().expect("an address"), true),
            "https://127.0.0.1:14269/health/ready"
        );
    }
}
