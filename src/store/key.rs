//! The audit key: the HMAC-SHA256 key that chains the audit log and pseudonymises erased
//! people. It lives outside the database so that someone who can rewrite rows cannot make
//! `deskbot audit verify` pass, nor reverse an erasure by hashing candidate ids.
//!
//! Where it comes from, first match wins: `DESKBOT_AUDIT_KEY` (the key itself, at least 32
//! characters), `DESKBOT_AUDIT_KEY_FILE` (a file holding it), or `<data_dir>/audit.key`,
//! generated with 32 random bytes and mode 0600 on first use (with a warning to move it).
//! It lives beside the store, which links every audit entry with it; `compliance::key`
//! re-exports it.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable holding the key itself.
pub const KEY_ENV: &str = "DESKBOT_AUDIT_KEY";
/// Environment variable naming a file that holds the key.
pub const KEY_FILE_ENV: &str = "DESKBOT_AUDIT_KEY_FILE";
/// The generated key's file name inside the data directory.
pub const KEY_FILE_NAME: &str = "audit.key";
/// Shortest key accepted, in bytes.
const MIN_KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
    #[error("audit key file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Where the key was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
    /// Generated just now into this file.
    Generated(PathBuf),
}

/// The key. Never printed: `Debug` shows only that it is there.
#[derive(Clone)]
pub struct AuditKey {
    bytes: Vec<u8>,
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

impl AuditKey {
    /// A key from its bytes (at least 32).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self, KeyError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_KEY_LEN {
            return Err(KeyError::Invalid(format!(
                "the audit key is {} bytes; it needs at least {MIN_KEY_LEN}",
                bytes.len()
            )));
        }
        Ok(Self { bytes })
    }

    /// Load the key from the environment, its file, or the data directory (creating it there,
    /// 0600, when nothing else names one).
    pub fn load(data_dir: &Path) -> Result<(Self, KeySource), KeyError> {
        if let Ok(v) = std::env::var(KEY_ENV)
            && !v.trim().is_empty()
        {
            return Ok((Self::from_bytes(v.trim().as_bytes().to_vec())?, KeySource::Env));
        }
        if let Ok(p) = std::env::var(KEY_FILE_ENV)
            && !p.trim().is_empty()
        {
            let path = PathBuf::from(p.trim());
            return Ok((Self::read_file(&path)?, KeySource::File(path)));
        }
        let path = data_dir.join(KEY_FILE_NAME);
        if path.exists() {
            return Ok((Self::read_file(&path)?, KeySource::File(path)));
        }
        let key = Self::generate()?;
        write_private(&path, &key.bytes).map_err(|source| KeyError::Io { path: path.clone(), source })?;
        tracing::warn!(
            path = %path.display(),
            "generated a new audit key beside the database; move it out of the data directory and point {KEY_FILE_ENV} at it"
        );
        Ok((key, KeySource::Generated(path)))
    }

    fn read_file(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| KeyError::Io { path: path.to_path_buf(), source })?;
        Self::from_bytes(text.trim().as_bytes().to_vec())
            .map_err(|e| KeyError::Invalid(format!("{}: {e}", path.display())))
    }

    /// A fresh key: 32 random bytes, hex-encoded (the key is the text, as written to its file).
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = [0u8; MIN_KEY_LEN];
        getrandom::fill(&mut bytes)
            .map_err(|e| KeyError::Invalid(format!("no randomness for a new audit key: {e}")))?;
        Self::from_bytes(hex::encode(bytes).into_bytes())
    }

    /// HMAC-SHA256 of `data`, hex-encoded.
    pub fn mac_hex(&self, data: &[u8]) -> String {
        hex::encode(self.mac(data))
    }

    /// HMAC-SHA256 of `data`.
    pub fn mac(&self, data: &[u8]) -> [u8; 32] {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(&self.bytes) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        m.update(data);
        m.finalize().into_bytes().into()
    }

    /// The keyed hash that stands for an erased person in the audit log: the same person
    /// always gets the same value, and nobody without the key can tell who it is.
    pub fn person_hash(&self, user: &crate::domain::UserRef) -> String {
        format!("hmac:{}", &self.mac_hex(format!("person:{user}").as_bytes())[..32])
    }
}

/// Write `bytes` to a new file only its owner can read (0600 on Unix).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Platform, UserRef};

    #[test]
    fn short_keys_are_refused() {
        assert!(AuditKey::from_bytes(b"short".to_vec()).is_err());
        assert!(AuditKey::from_bytes(vec![7u8; 32]).is_ok());
    }

    #[test]
    fn person_hash_is_keyed_and_stable() {
        let a = AuditKey::from_bytes(vec![1u8; 32]).unwrap();
        let b = AuditKey::from_bytes(vec![2u8; 32]).unwrap();
        let u = UserRef::new(Platform::Slack, "UVICTIM");
        assert_eq!(a.person_hash(&u), a.person_hash(&u));
        assert_ne!(a.person_hash(&u), b.person_hash(&u));
        assert!(!a.person_hash(&u).contains("UVICTIM"));
        assert_eq!(format!("{a:?}"), "AuditKey(..)");
    }

    #[test]
    fn generated_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        let k = AuditKey::generate().unwrap();
        write_private(&path, &k.bytes).unwrap();
        let again = AuditKey::read_file(&path).unwrap();
        assert_eq!(again.mac_hex(b"x"), k.mac_hex(b"x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
