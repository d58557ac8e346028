//! The embedding cache file: `DBEMB1\n`, the model checksum (64 hex bytes), the dimensions (u32
//! LE), then records of SHA-256(text) (32 bytes) and the embedding (f32 LE). A file of another
//! model or dimension is ignored (and replaced at the next write). Written to a temporary file
//! and renamed, so a crash never leaves half a cache.
//!
//! The file does not grow without end: texts no longer in the catalog (an edited example, a
//! removed article) are dropped at a write once they outnumber the texts this process has used
//! (plus [`SLACK`]), so it holds at most about twice what the catalogs read.
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::Path;

const MAGIC: &[u8] = b"DBEMB1\n";

pub type Key = [u8; 32];

/// Unused records kept beyond the used ones before a write prunes them.
pub const SLACK: usize = 1_000;

pub fn key(text: &str) -> Key {
    Sha256::digest(text.as_bytes()).into()
}

pub struct Cache {
    checksum: String,
    dim: usize,
    entries: HashMap<Key, Box<[f32]>>,
    /// Keys asked for since the cache was loaded.
    used: HashSet<Key>,
}

impl Cache {
    pub fn new(checksum: &str, dim: usize) -> Self {
        Self { checksum: checksum.to_string(), dim, entries: HashMap::new(), used: HashSet::new() }
    }

    /// The cache at `path`; empty when there is none or it belongs to another model.
    pub fn load(path: &Path, checksum: &str, dim: usize) -> std::io::Result<Self> {
        let mut cache = Self::new(checksum, dim);
        let mut bytes = Vec::new();
        match std::fs::File::open(path) {
            Ok(mut f) => f.read_to_end(&mut bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cache),
            Err(e) => return Err(e),
        };
        let head = MAGIC.len() + 64 + 4;
        if bytes.len() < head
            || &bytes[..MAGIC.len()] != MAGIC
            || &bytes[MAGIC.len()..MAGIC.len() + 64] != checksum.as_bytes()
            || u32::from_le_bytes([bytes[head - 4], bytes[head - 3], bytes[head - 2], bytes[head - 1]])
                as usize
                != dim
        {
            return Ok(cache);
        }
        let record = 32 + 4 * dim;
        for rec in bytes[head..].chunks_exact(record) {
            let mut k = [0u8; 32];
            k.copy_from_slice(&rec[..32]);
            let v: Box<[f32]> =
                rec[32..].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            cache.entries.insert(k, v);
        }
        Ok(cache)
    }

    /// Writes the cache; first drops the records nobody used since the load when they
    /// outnumber the used ones by more than [`SLACK`].
    pub fn save(&mut self, path: &Path) -> std::io::Result<()> {
        if self.entries.len() > 2 * self.used.len() + SLACK {
            let used = &self.used;
            self.entries.retain(|k, _| used.contains(k));
        }
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("cache.{}-{seq}.tmp", std::process::id()));
        {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            f.write_all(MAGIC)?;
            f.write_all(self.checksum.as_bytes())?;
            f.write_all(&(self.dim as u32).to_le_bytes())?;
            for (k, v) in &self.entries {
                f.write_all(k)?;
                for x in v.iter() {
                    f.write_all(&x.to_le_bytes())?;
                }
            }
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }

    pub fn contains(&self, k: &Key) -> bool {
        self.entries.contains_key(k)
    }

    /// Marks `k` as used by this process (kept at the next write).
    pub fn touch(&mut self, k: Key) {
        self.used.insert(k);
    }

    pub fn get(&self, k: &Key) -> Option<&[f32]> {
        self.entries.get(k).map(|v| &v[..])
    }

    pub fn insert(&mut self, k: Key, v: Vec<f32>) {
        if v.len() == self.dim {
            self.used.insert(k);
            self.entries.insert(k, v.into_boxed_slice());
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize) -> (Key, Vec<f32>) {
        (key(&format!("text {i}")), vec![i as f32, 1.0])
    }

    #[test]
    fn a_write_keeps_unused_records_up_to_the_slack_then_drops_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("embeddings.cache");
        let mut c = Cache::new(&"a".repeat(64), 2);
        for i in 0..SLACK + 10 {
            let (k, v) = entry(i);
            c.insert(k, v);
        }
        c.save(&path).expect("save");
        // A new process uses ten of them: the rest is within the slack, so all stay.
        let mut c = Cache::load(&path, &"a".repeat(64), 2).expect("load");
        assert_eq!(c.len(), SLACK + 10);
        (0..10).for_each(|i| c.touch(entry(i).0));
        c.save(&path).expect("save");
        assert_eq!(Cache::load(&path, &"a".repeat(64), 2).expect("load").len(), SLACK + 10);
        // Another uses two: the unused now outnumber the used by more than the slack.
        let mut c = Cache::load(&path, &"a".repeat(64), 2).expect("load");
        (0..2).for_each(|i| c.touch(entry(i).0));
        c.save(&path).expect("save");
        let c = Cache::load(&path, &"a".repeat(64), 2).expect("load");
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&entry(1).0), Some(&[1.0f32, 1.0][..]));
        assert!(!c.contains(&entry(5).0));
    }
}
