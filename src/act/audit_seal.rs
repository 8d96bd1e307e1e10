//! Sealing the audit log, in the spirit of journald's forward-secure sealing and Certificate
//! Transparency's signed tree heads: every entry carries an HMAC under a key that evolves one
//! step per entry (k₁ = H(k₀), k₂ = H(k₁), …), and the chain's head — its last seq and hash —
//! is sealed the same way in a file outside the log (`audit.seal`), replaced atomically after
//! each append. The writer keeps only the next entry's key (in `audit.seal`); the first key
//! k₀, the verification key, is written once to `audit.verify-key` for the operator to move
//! off the machine. Whoever holds only the log cannot forge a seal; whoever steals the
//! writer's current key cannot re-seal anything written before (the hash is one-way).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A sealing key (one per entry) or the verification key k₀.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material (it would end up in logs and panics).
        f.write_str("Key(…)")
    }
}

impl Key {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Key {
        use rand::Rng;
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        Key(k)
    }

    /// The key of the next entry: one-way, so a stolen key does not give the earlier ones.
    pub(crate) fn evolve(&self) -> Key {
        let mut h = Sha256::new();
        h.update(b"twintop audit key evolution\0");
        h.update(self.0);
        Key(h.finalize().into())
    }

    /// k_seq from k₀.
    pub fn at(&self, seq: u64) -> Key {
        let mut k = self.clone();
        for _ in 0..seq {
            k = k.evolve();
        }
        k
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A key written as 64 hex digits; lines starting with `#` and blank lines are ignored.
    pub fn parse(text: &str) -> Result<Key, String> {
        let hexed: String = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect::<Vec<_>>()
            .concat();
        let bytes = hex::decode(&hexed).map_err(|_| "not a hex key".to_string())?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| "a key is 32 bytes (64 hex digits)".to_string())?;
        Ok(Key(arr))
    }

    fn mac(&self, what: &str, seq: u64, hash: &str) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(format!("twintop audit {what}\0{seq}\0{hash}").as_bytes());
        m
    }

    /// The seal stored in entry `seq` (this key must be k_seq).
    pub fn seal_entry(&self, seq: u64, hash: &str) -> String {
        hex::encode(self.mac("entry", seq, hash).finalize().into_bytes())
    }

    /// The seal of a head at `seq` (distinct from the entry's, so an entry's seal cannot be
    /// copied into a head that claims the log ends there).
    pub fn seal_head(&self, seq: u64, hash: &str) -> String {
        hex::encode(self.mac("head", seq, hash).finalize().into_bytes())
    }

    fn check(&self, what: &str, seq: u64, hash: &str, seal: &str) -> bool {
        hex::decode(seal).is_ok_and(|s| self.mac(what, seq, hash).verify_slice(&s).is_ok())
    }

    /// What the writer can check on reopening: (seq, hash) bound to the key it holds next.
    /// Weaker than the head's seal (that key sits in the same file), but it makes the writer
    /// refuse a head edited by hand.
    pub fn seal_link(&self, seq: u64, hash: &str) -> String {
        hex::encode(self.mac("link", seq, hash).finalize().into_bytes())
    }

    pub(crate) fn check_link(&self, seq: u64, hash: &str, link: &str) -> bool {
        self.check("link", seq, hash, link)
    }

    pub(crate) fn check_entry(&self, seq: u64, hash: &str, seal: &str) -> bool {
        self.check("entry", seq, hash, seal)
    }

    pub(crate) fn check_head(&self, seq: u64, hash: &str, seal: &str) -> bool {
        self.check("head", seq, hash, seal)
    }
}

/// `audit.seal`: the sealed head and the writer's key for the next entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealFile {
    /// The last entry's seq (0: an empty log).
    pub seq: u64,
    pub hash: String,
    /// HMAC of (seq, hash) under k_seq.
    pub seal: String,
    /// k_{seq+1}, hex.
    pub next_key: String,
    /// HMAC of (seq, hash) under k_{seq+1}: checked by the writer when it reopens the log.
    pub link: String,
}

/// The public part of a head: what an auditor notes down elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

/// `audit.seal` beside a log `audit.jsonl`.
pub(crate) fn seal_path(log: &Path) -> PathBuf {
    log.with_extension("seal")
}

/// `audit.verify-key` beside a log `audit.jsonl`.
pub(crate) fn verify_key_path(log: &Path) -> PathBuf {
    log.with_extension("verify-key")
}

/// Reads `audit.seal`: None when absent.
pub(crate) fn read_seal(path: &Path) -> Result<Option<SealFile>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes `audit.seal` for a head at (seq, hash) sealed with `key` (= k_seq), keeping k_{seq+1}.
pub(crate) fn write_seal(path: &Path, seq: u64, hash: &str, key: &Key) -> std::io::Result<Key> {
    let next = key.evolve();
    let file = SealFile {
        seq,
        hash: hash.to_string(),
        seal: key.seal_head(seq, hash),
        next_key: next.to_hex(),
        link: next.seal_link(seq, hash),
    };
    let mut bytes = serde_json::to_vec_pretty(&file).expect("a seal serialises");
    bytes.push(b'\n');
    crate::paths::write_private(path, &bytes)?;
    Ok(next)
}

/// Reads a verification key file.
pub fn read_key(path: &Path) -> Result<Key, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Key::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes a new verification key (refusing to replace one).
pub fn write_new_key(path: &Path, log: &Path, key: &Key) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::paths::private_dir(dir)?;
    }
    // Written whole under a temporary name, then linked into place (which, unlike a rename,
    // never replaces a key): a crash leaves the key complete or absent, never torn.
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("verify-key");
    crate::paths::remove_orphaned_temps(dir, name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = crate::paths::private_options().write(true).create_new(true).open(&tmp)?;
    let text = format!(
        "# twintop audit verification key for {}\n\
         # Keep a copy off this machine; `twintop audit --verify --key FILE` checks the seals with it.\n\
         # Whoever holds it can forge seals: once copied, delete it here.\n{}\n",
        log.display(),
        key.to_hex()
    );
    let linked =
        f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).and_then(|_| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    linked?;
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_evolve_one_way_and_seals_bind_seq_and_hash() {
        let k0 = Key::generate();
        let k3 = k0.at(3);
        assert_eq!(k3, k0.evolve().evolve().evolve());
        assert_ne!(k3, k0.at(2));
        let s = k3.seal_entry(3, "ab");
        assert!(k3.check_entry(3, "ab", &s));
        assert!(!k3.check_entry(4, "ab", &s) && !k3.check_entry(3, "ac", &s));
        assert!(!k3.check_head(3, "ab", &s), "an entry's seal is not a head's");
        assert!(!k0.at(2).check_entry(3, "ab", &s));
        assert!(!k3.check_entry(3, "ab", "zz"));
        assert_eq!(Key::parse(&format!("# c\n{}\n", k3.to_hex())).unwrap(), k3);
        assert!(Key::parse("abcd").is_err());
        assert_eq!(format!("{k3:?}"), "Key(…)");
    }
}
