//! The machine's raw AEAD speed, as the physical reference for bulk throughput: the `openssl`
//! program's `speed -evp` figure at 16 KiB blocks, when the program is installed.
//!
//! One side encrypts and the other decrypts on the same core, so the best an in-memory bulk
//! transfer can reach is about half this figure.

use std::process::Command;

/// The `openssl speed -evp` name for an IANA TLS 1.3 suite name.
pub fn evp_name(suite: &str) -> Option<&'static str> {
    match suite {
        "TLS_AES_128_GCM_SHA256" => Some("aes-128-gcm"),
        "TLS_AES_256_GCM_SHA384" => Some("aes-256-gcm"),
        "TLS_CHACHA20_POLY1305_SHA256" => Some("chacha20-poly1305"),
        _ => None,
    }
}

/// Bytes per second `openssl speed -evp <evp> -bytes 16384 -seconds <seconds>` reports.
///
/// Fails with a message when the program is missing, fails, or prints something unexpected.
pub fn openssl_speed(evp: &str, seconds: u32) -> Result<f64, String> {
    let out = Command::new("openssl")
        .args(["speed", "-evp", evp, "-bytes", "16384", "-seconds"])
        .arg(seconds.to_string())
        .output()
        .map_err(|e| format!("cannot run the openssl program: {e}"))?;
    if !out.status.success() {
        return Err(format!("openssl speed failed: {}", out.status));
    }
    parse_speed(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| "cannot read openssl speed's output".into())
}

/// The figure on the last line of `openssl speed` output (`AES-128-GCM  2345678.90k`, in
/// thousands of bytes per second), in bytes per second.
pub fn parse_speed(output: &str) -> Option<f64> {
    let line = output.lines().rev().find(|l| !l.trim().is_empty())?;
    let figure = line.split_whitespace().last()?;
    let thousands: f64 = figure.strip_suffix('k')?.parse().ok()?;
    Some(thousands * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_last_line() {
        let out = "version: 3.0.19\nThe 'numbers' are in 1000s of bytes per second processed.\n\
                   type             16384 bytes\nAES-128-GCM    2456789.12k\n";
        assert_eq!(parse_speed(out), Some(2_456_789_120.0));
        assert_eq!(parse_speed("nothing"), None);
    }
}
