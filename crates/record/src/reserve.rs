//! Disk space held back so that a recording can still be closed when its disk fills up.
//!
//! HDF5 keeps no journal: a file is readable only if its metadata (B-trees, object headers,
//! dataset extents) reaches the disk at close. When the disk is full, that last write fails and
//! the file is left unreadable. A [`SpaceReserve`] is an ordinary file of a given size, written
//! when the recording starts; the recorder removes it before it closes its files (after a failed
//! write, and at the normal end), which frees exactly the space closing needs.
//!
//! The file is written with actual bytes rather than `set_len`, which would leave a sparse hole
//! that reserves nothing; and not with zeros, which compressing file systems (ZFS, btrfs) would
//! store in almost no space.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{RecordError, Result};

/// File name of the reserve inside an output directory (hidden: it is not part of the recording).
pub const RESERVE_FILE_NAME: &str = ".laminar-reserve";

/// A file occupying disk space until [`SpaceReserve::release`] (or drop) removes it.
#[derive(Debug)]
pub struct SpaceReserve {
    /// `None` once released.
    path: Option<PathBuf>,
    bytes: u64,
}

impl SpaceReserve {
    /// Writes `dir/.laminar-reserve` of `bytes` bytes and syncs it, so the space is really taken.
    /// Fails, naming the directory and the size, when the disk does not have that much room.
    pub fn create(dir: &Path, bytes: u64) -> Result<Self> {
        let path = dir.join(RESERVE_FILE_NAME);
        let written = write_filler(&path, bytes);
        if let Err(cause) = written {
            let _ = fs::remove_file(&path);
            return Err(RecordError::Io {
                path,
                action: format!(
                    "reserve {:.1} MiB for closing the recording (the output directory needs at least that much free space) in",
                    bytes as f64 / (1024.0 * 1024.0)
                ),
                cause,
            });
        }
        Ok(Self { path: Some(path), bytes })
    }

    /// Size of the reserve in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Removes the reserve file, giving its space back. Releasing twice is a no-op.
    pub fn release(&mut self) -> Result<()> {
        let Some(path) = self.path.take() else { return Ok(()) };
        fs::remove_file(&path).map_err(|cause| RecordError::Io { path, action: "remove".to_owned(), cause })
    }
}

impl Drop for SpaceReserve {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

fn write_filler(path: &Path, bytes: u64) -> std::io::Result<()> {
    const BLOCK: usize = 64 * 1024;
    // An incompressible pattern (a xorshift sequence), generated once per block.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let block: Vec<u8> = (0..BLOCK / 8)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        })
        .collect();
    let mut file = fs::File::create(path)?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(BLOCK as u64) as usize;
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    // Delayed allocation (ext4, XFS) would otherwise accept the writes and fail only later.
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_takes_its_size_and_gives_it_back() {
        let dir = std::env::temp_dir().join(format!("laminar-reserve-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mut reserve = SpaceReserve::create(&dir, 200_000).unwrap();
        let path = dir.join(RESERVE_FILE_NAME);
        assert_eq!(fs::metadata(&path).unwrap().len(), 200_000);
        reserve.release().unwrap();
        assert!(!path.exists());
        reserve.release().unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}
