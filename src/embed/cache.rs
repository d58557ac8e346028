//! The embedding cache file: `DBEMB1\n`, the model checksum (64 hex bytes), the dimensions (u32
//! LE), then records of SHA-256(text) (32 bytes) and the embedding (f32 LE). A file of another
//! model or dimension is ignored (and replaced at the next write). Written to a temporary file
//! and renamed, so a crash never leaves half a cache.
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

const MAGIC: &[u8] = b"DBEMB1\n";

pub type Key = [u8; 32];

pub fn key(text: &str) -> Key {
    Sha256::digest(text.as_bytes()).into()
}

pub struct Cache {
    checksum: String,
    dim: usize,
    entries: HashMap<Key, Box<[f32]>>,
}

impl Cache {
    pub fn new(checksum: &str, dim: usize) -> Self {
        Self { checksum: checksum.to_string(), dim, entries: HashMap::new() }
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

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
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

    pub fn get(&self, k: &Key) -> Option<&[f32]> {
        self.entries.get(k).map(|v| &v[..])
    }

    pub fn insert(&mut self, k: Key, v: Vec<f32>) {
        if v.len() == self.dim {
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
