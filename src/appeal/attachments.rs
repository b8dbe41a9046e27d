//! Files attached to appeal cards (photos, video, documents: 000 §2.2.1
//! "other material"), on disk under `[storage] attachments_dir`.
//!
//! An upload streams into `<dir>/.incoming/<uuid>.part`, counting and
//! hashing as it goes and refusing anything past the size limit; the kind
//! is told from the file's first bytes, never from its name or the
//! browser's word, and only the kinds in [`KINDS`] are kept. A finished
//! upload is flushed to disk and renamed to `<dir>/YYYY/MM/<uuid>.<ext>`,
//! a name the server chooses: nothing from the request ever becomes a
//! path. An upload that fails or is dropped leaves nothing behind, and
//! [`AttachmentFiles::sweep_incoming`] removes what a crash left.
//!
//! Role: the file side only; the rows are the store's. It knows nothing of
//! HTTP.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Datelike, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};
use uuid::Uuid;

/// The kinds an attachment may be: (MIME type as `infer` names it, the
/// extension the stored file gets).
pub const KINDS: &[(&str, &str)] = &[
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/webp", "webp"),
    ("image/gif", "gif"),
    ("image/heif", "heic"),
    ("video/mp4", "mp4"),
    ("video/quicktime", "mov"),
    ("application/pdf", "pdf"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    ("application/vnd.oasis.opendocument.text", "odt"),
];

/// How much of the start of a file is kept to tell its kind (office
/// documents are ZIPs whose telling entry may come after a few others).
const HEAD: usize = 64 * 1024;
const INCOMING: &str = ".incoming";

/// A piece of an upload, for [`AttachmentFiles::spawn_writer`].
#[derive(Debug)]
pub enum Piece {
    Data(Bytes),
    /// The upload is complete: check it and keep it.
    End,
}

#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    #[error("the upload was abandoned before its end")]
    Abandoned,
    #[error("the file is larger than {max_mb} MiB")]
    TooLarge { max_mb: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("files of this kind ({0}) cannot be attached")]
    Kind(String),
    #[error("cannot store the file: {0}")]
    Io(#[from] std::io::Error),
}

/// `dir/relative` if `relative` is a plain relative path (no `..`, no
/// root, not empty): a path read from the database can never leave the
/// directory it belongs to.
pub fn plain_join(dir: &Path, relative: &str) -> Option<PathBuf> {
    let rel = Path::new(relative);
    let plain = rel
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    (plain && !relative.is_empty()).then(|| dir.join(rel))
}

/// A finished upload, in its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Relative to the attachments directory.
    pub path: String,
    pub content_type: &'static str,
    pub size_bytes: u64,
    pub sha256: String,
}

/// The attachments directory and its limit.
#[derive(Debug, Clone)]
pub struct AttachmentFiles {
    dir: PathBuf,
    max_bytes: u64,
}

impl AttachmentFiles {
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        Self {
            dir: dir.into(),
            max_bytes,
        }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of a stored attachment. `relative` comes from the store,
    /// which took it from [`StoredFile::path`]; anything that would leave
    /// the directory is refused all the same.
    pub fn path_of(&self, relative: &str) -> Option<PathBuf> {
        plain_join(&self.dir, relative)
    }

    /// Starts an upload.
    pub fn begin(&self) -> Result<Upload, AttachmentError> {
        let incoming = self.dir.join(INCOMING);
        std::fs::create_dir_all(&incoming)?;
        let tmp = incoming.join(format!("{}.part", Uuid::new_v4()));
        let file = std::fs::File::create_new(&tmp)?;
        Ok(Upload {
            file: Some(std::io::BufWriter::new(file)),
            tmp,
            dir: self.dir.clone(),
            max_bytes: self.max_bytes,
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
            done: false,
        })
    }

    /// Writes an upload on a blocking thread (never on the async workers,
    /// which carry the calls' media) from the pieces sent. The file is kept
    /// only once [`Piece::End`] arrives: a channel closed without it (the
    /// client went away) discards it. Also returns the first write error.
    pub fn spawn_writer(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> (
        mpsc::Sender<Piece>,
        JoinHandle<Result<StoredFile, AttachmentError>>,
    ) {
        let (tx, mut rx) = mpsc::channel::<Piece>(8);
        let files = self.clone();
        let writer = tokio::task::spawn_blocking(move || {
            let mut upload = files.begin()?;
            loop {
                match rx.blocking_recv() {
                    Some(Piece::Data(chunk)) => upload.write(&chunk)?,
                    Some(Piece::End) => return upload.finish(id, now),
                    None => return Err(AttachmentError::Abandoned),
                }
            }
        });
        (tx, writer)
    }

    /// Streams `body` into a new stored file: the outer error is the
    /// body's own (it broke off, or passed the request's limit; nothing is
    /// kept), the inner one the file's (too large, empty, of a type not
    /// taken). The file stays in `uploads` until they are kept.
    pub async fn store<E>(
        &self,
        uploads: &mut Uploads,
        body: impl futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Result<StoredFile, AttachmentError>, E> {
        let (pieces, writer) = self.spawn_writer(id, now);
        // From here a dropped request still ends with the file removed.
        uploads.writing = Some(writer);
        let pumped = pump(body, pieces).await;
        let Some(writer) = uploads.writing.as_mut() else {
            unreachable!("set above")
        };
        let written = writer.await;
        // No await between taking the writer's result and noting the file.
        uploads.writing = None;
        let written =
            written.unwrap_or_else(|e| Err(AttachmentError::Io(std::io::Error::other(e))));
        if let Ok(stored) = &written {
            uploads.stored.push(stored.path.clone());
        }
        pumped?;
        Ok(written)
    }

    /// Removes a stored file (its row could not be written), off the async
    /// workers.
    pub async fn remove(&self, relative: &str) {
        if let Some(path) = self.path_of(relative) {
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = std::fs::remove_file(&path) {
                    warn!(path = %path.display(), error = %e, "cannot remove an attachment's file");
                }
            })
            .await;
        }
    }

    /// Removes uploads a crash left unfinished; returns how many.
    pub fn sweep_incoming(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(self.dir.join(INCOMING)) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "part") {
                match std::fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) => {
                        warn!(path = %path.display(), error = %e, "cannot remove an unfinished upload")
                    }
                }
            }
        }
        if removed > 0 {
            info!(removed, "unfinished attachment uploads removed");
        }
        removed
    }
}

/// Sends a body's chunks to a writer from
/// [`AttachmentFiles::spawn_writer`], and the end once the body ends. On
/// the body's error the writer is left without an end, so it keeps
/// nothing.
pub async fn pump<E>(
    mut body: impl futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    pieces: mpsc::Sender<Piece>,
) -> Result<(), E> {
    use futures_util::StreamExt;
    while let Some(chunk) = body.next().await {
        if pieces.send(Piece::Data(chunk?)).await.is_err() {
            // The writer stopped on an error: it says which.
            return Ok(());
        }
    }
    let _ = pieces.send(Piece::End).await;
    Ok(())
}

/// Files stored for a request that may still be refused, or dropped
/// midway (the client went away): unless [`Uploads::keep`] is called they
/// are all removed, a writer still running is awaited first. Nothing is
/// left in the folder that no card names.
pub struct Uploads {
    files: AttachmentFiles,
    writing: Option<JoinHandle<Result<StoredFile, AttachmentError>>>,
    stored: Vec<String>,
}

impl Uploads {
    pub fn new(files: &AttachmentFiles) -> Uploads {
        Uploads {
            files: files.clone(),
            writing: None,
            stored: Vec::new(),
        }
    }

    /// The files are the cards' now.
    pub fn keep(mut self) {
        self.stored.clear();
        self.writing = None;
    }

    /// Removes the files now (the request was refused), before it is
    /// answered.
    pub async fn discard(mut self) {
        if let Some(writer) = self.writing.take() {
            if let Ok(Ok(file)) = writer.await {
                self.files.remove(&file.path).await;
            }
        }
        for path in std::mem::take(&mut self.stored) {
            self.files.remove(&path).await;
        }
    }
}

impl Drop for Uploads {
    fn drop(&mut self) {
        let (writing, stored) = (self.writing.take(), std::mem::take(&mut self.stored));
        if writing.is_none() && stored.is_empty() {
            return;
        }
        let files = self.files.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            warn!(
                files = stored.len(),
                "uploads not kept, and no runtime to remove them"
            );
            return;
        };
        runtime.spawn(async move {
            if let Some(writer) = writing {
                if let Ok(Ok(file)) = writer.await {
                    files.remove(&file.path).await;
                }
            }
            for path in stored {
                files.remove(&path).await;
            }
        });
    }
}

/// An upload in progress. Dropped without [`Upload::finish`], its
/// partial file is removed.
pub struct Upload {
    file: Option<std::io::BufWriter<std::fs::File>>,
    tmp: PathBuf,
    dir: PathBuf,
    max_bytes: u64,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
    done: bool,
}

impl Upload {
    /// Appends a chunk. Blocking IO on a small buffer; the caller runs it
    /// where blocking is allowed (or accepts a short write to page cache).
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), AttachmentError> {
        self.size += chunk.len() as u64;
        if self.size > self.max_bytes {
            return Err(AttachmentError::TooLarge {
                max_mb: self.max_bytes / (1024 * 1024),
            });
        }
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        match self.file.as_mut() {
            Some(f) => f.write_all(chunk)?,
            None => return Err(AttachmentError::Io(std::io::ErrorKind::BrokenPipe.into())),
        }
        Ok(())
    }

    /// The kind the file is, if it is one that may be kept.
    pub fn kind(&self) -> Result<(&'static str, &'static str), AttachmentError> {
        if self.size == 0 {
            return Err(AttachmentError::Empty);
        }
        let found = infer::get(&self.head).map(|t| t.mime_type());
        KINDS
            .iter()
            .find(|(mime, _)| Some(*mime) == found)
            .copied()
            .ok_or_else(|| AttachmentError::Kind(found.unwrap_or("unknown").to_owned()))
    }

    /// Checks the kind, flushes the file to disk and moves it to
    /// `YYYY/MM/<id>.<ext>`.
    pub fn finish(mut self, id: Uuid, now: DateTime<Utc>) -> Result<StoredFile, AttachmentError> {
        let (content_type, ext) = self.kind()?;
        let file = self
            .file
            .take()
            .ok_or(AttachmentError::Io(std::io::ErrorKind::BrokenPipe.into()))?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        let folder = format!("{:04}/{:02}", now.year(), now.month());
        std::fs::create_dir_all(self.dir.join(&folder))?;
        let path = format!("{folder}/{id}.{ext}");
        std::fs::rename(&self.tmp, self.dir.join(&path))?;
        self.done = true;
        // The new name, and any new folder, are on disk too: after a crash
        // the row never points at a file the file system forgot.
        for dir in [
            self.dir.join(&folder),
            self.dir.join(format!("{:04}", now.year())),
            self.dir.clone(),
        ] {
            std::fs::File::open(&dir)?.sync_all()?;
        }
        Ok(StoredFile {
            path,
            content_type,
            size_bytes: self.size,
            sha256: hex::encode(self.hasher.clone().finalize()),
        })
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.done {
            self.file.take();
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R',
    ];

    fn setup(max: u64) -> (tempfile::TempDir, AttachmentFiles) {
        let dir = tempfile::tempdir().unwrap();
        let files = AttachmentFiles::new(dir.path(), max);
        (dir, files)
    }

    fn incoming(dir: &Path) -> usize {
        std::fs::read_dir(dir.join(INCOMING))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    fn body(
        chunks: &[&'static [u8]],
    ) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        futures_util::stream::iter(
            chunks
                .iter()
                .map(|c| Ok(Bytes::from_static(c)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn uploads_not_kept_are_removed_also_when_dropped() {
        let (dir, files) = setup(1024);
        let now = "2026-11-25T10:00:00Z".parse().unwrap();
        // Kept: stays.
        let mut uploads = Uploads::new(&files);
        let kept = files
            .store(
                &mut uploads,
                body(&[&PNG[..4], &PNG[4..]]),
                Uuid::new_v4(),
                now,
            )
            .await
            .unwrap()
            .unwrap();
        uploads.keep();
        // Not kept (the request refused, or dropped): gone.
        let mut uploads = Uploads::new(&files);
        let dropped = files
            .store(&mut uploads, body(&[PNG]), Uuid::new_v4(), now)
            .await
            .unwrap()
            .unwrap();
        let refused = files
            .store(
                &mut uploads,
                body(&[b"MZ not a picture"]),
                Uuid::new_v4(),
                now,
            )
            .await
            .unwrap();
        assert!(
            matches!(refused, Err(AttachmentError::Kind(_))),
            "{refused:?}"
        );
        drop(uploads);
        for _ in 0..100 {
            if !dir.path().join(&dropped.path).exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(!dir.path().join(&dropped.path).exists());
        assert!(dir.path().join(&kept.path).exists());
        assert_eq!(incoming(dir.path()), 0);
        // A body that breaks off keeps nothing.
        let mut uploads = Uploads::new(&files);
        let broken = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(PNG)),
            Err(std::io::Error::other("reset")),
        ]);
        assert!(
            files
                .store(&mut uploads, broken, Uuid::new_v4(), now)
                .await
                .is_err()
        );
        assert_eq!(incoming(dir.path()), 0);
    }

    #[test]
    fn a_picture_is_kept_under_a_name_the_server_chose() {
        let (dir, files) = setup(1024);
        let mut up = files.begin().unwrap();
        up.write(&PNG[..5]).unwrap();
        up.write(&PNG[5..]).unwrap();
        let id = Uuid::new_v4();
        let now = "2026-11-25T10:00:00Z".parse().unwrap();
        let stored = up.finish(id, now).unwrap();
        assert_eq!(stored.path, format!("2026/11/{id}.png"));
        assert_eq!(stored.content_type, "image/png");
        assert_eq!(stored.size_bytes, PNG.len() as u64);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(PNG)));
        assert_eq!(std::fs::read(dir.path().join(&stored.path)).unwrap(), PNG);
        assert_eq!(incoming(dir.path()), 0);
    }

    #[test]
    fn too_large_unknown_or_empty_files_leave_nothing() {
        let (dir, files) = setup(10);
        let mut up = files.begin().unwrap();
        assert!(matches!(
            up.write(PNG),
            Err(AttachmentError::TooLarge { .. })
        ));
        drop(up);
        assert_eq!(incoming(dir.path()), 0);

        let (dir, files) = setup(1024);
        let mut up = files.begin().unwrap();
        up.write(b"<html><script>alert(1)</script></html>").unwrap();
        let err = up.finish(Uuid::new_v4(), Utc::now()).unwrap_err();
        assert!(matches!(err, AttachmentError::Kind(_)), "{err}");
        let up = files.begin().unwrap();
        assert!(matches!(
            up.finish(Uuid::new_v4(), Utc::now()),
            Err(AttachmentError::Empty)
        ));
        assert_eq!(incoming(dir.path()), 0);
    }

    #[test]
    fn stored_paths_never_leave_the_directory_and_crash_leftovers_are_swept() {
        let (dir, files) = setup(1024);
        assert!(files.path_of("2026/11/x.png").is_some());
        for bad in ["../etc/passwd", "/etc/passwd", "2026/../../x", ""] {
            assert!(files.path_of(bad).is_none(), "{bad:?} accepted");
        }
        let up = files.begin().unwrap();
        std::mem::forget(up); // as if the server died mid-upload
        assert_eq!(incoming(dir.path()), 1);
        assert_eq!(files.sweep_incoming(), 1);
        assert_eq!(incoming(dir.path()), 0);
    }
}
