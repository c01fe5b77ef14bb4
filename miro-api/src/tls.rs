//! The HTTP client's TLS set-up.
//!
//! With the `rustls-tls` feature (the default) reqwest runs rustls with no crypto provider of its
//! own (its `rustls-no-provider` feature): this crate hands it a configuration with the *ring*
//! provider and the webpki (Mozilla) root certificates, which builds in two thirds of the CPU
//! time of reqwest's default (aws-lc-rs and the platform verifier) and makes smaller binaries.
//! A `reqwest::Client` built without that configuration (`reqwest::Client::new()`) has no
//! provider and panics, unless one was installed for the process
//! (`rustls::crypto::ring::default_provider().install_default()`): start from
//! [`http_client_builder`] instead.

/// reqwest's client builder with this crate's TLS configuration (with `rustls-tls`: rustls,
/// ring, the webpki roots; with `native-tls` alone: the platform's library; with neither: no
/// TLS, `http` only). Start here when handing a client of your own to
/// [`MiroApiBuilder::http_client`](crate::MiroApiBuilder::http_client):
///
/// ```
/// let http = miro_api::http_client_builder()
///     .pool_max_idle_per_host(4)
///     .build()?;
/// let api = miro_api::MiroApi::builder().http_client(http).build();
/// # drop(api);
/// # Ok::<(), miro_api::reqwest::Error>(())
/// ```
pub fn http_client_builder() -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder();
    #[cfg(feature = "rustls-tls")]
    let builder = match rustls_config() {
        Some(config) => builder.tls_backend_preconfigured(config),
        None => builder,
    };
    builder
}

/// rustls with ring and the webpki roots, TLS 1.2 and 1.3.
#[cfg(feature = "rustls-tls")]
fn rustls_config() -> Option<rustls::ClientConfig> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Some(config)
}

#[cfg(all(test, feature = "rustls-tls"))]
mod tests {
    #[test]
    fn the_rustls_configuration_builds_and_reqwest_takes_it() {
        let config = super::rustls_config().expect("ring supports the default versions");
        assert!(!config.crypto_provider().cipher_suites.is_empty());
        // Without the configuration reqwest would look for a process-wide provider (none is
        // installed in this test binary) and panic.
        super::http_client_builder().build().unwrap();
    }
}
