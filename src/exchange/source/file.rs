//! An ID token in a file: `--id-token-file`, or Kubernetes workload identity's
//! `AZURE_FEDERATED_TOKEN_FILE` (a projected service-account token, rotated in place, so it is
//! read afresh whenever a token is needed).

use std::io::{Error, ErrorKind, Read as _};
use std::path::Path;

use zeroize::Zeroizing;

use crate::exchange::http::Deadline;
use crate::secret::Secret;

/// The most an ID token file may hold: a JWT is a few KiB, so anything larger is not one.
pub const TOKEN_FILE_LIMIT: usize = 64 * 1024;

/// Reads an ID token file: at most [`TOKEN_FILE_LIMIT`] bytes, within the time left in `deadline`
/// (a FIFO or a stalled network mount must not hang the run), trimmed.
pub fn read_token_file(path: &Path, deadline: &Deadline) -> std::io::Result<Secret> {
    let bytes = read_bounded(path, TOKEN_FILE_LIMIT, deadline)?;
    if bytes.len() > TOKEN_FILE_LIMIT {
        return Err(Error::new(
            ErrorKind::InvalidData,
            "larger than 64 KiB, so it holds no ID token",
        ));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::new(
            ErrorKind::InvalidData,
            "not UTF-8 text, so it holds no ID token",
        )
    })?;
    Ok(Secret::new(text.trim().to_owned()))
}

/// Reads at most `limit + 1` bytes of `path` (so a larger file shows as longer than `limit`: the
/// caller says what that means), within the time left in `deadline`: `/dev/zero` is cut at the
/// limit, and a FIFO with no writer (or any other special file that never delivers) ends in a
/// `TimedOut` error instead of hanging the run. A regular file is read in place: a path that is
/// swapped for a FIFO between the check and the read is not covered, nor a regular file on a
/// stalled network mount. The buffer is zeroed on drop (it may hold a token).
pub fn read_bounded(
    path: &Path,
    limit: usize,
    deadline: &Deadline,
) -> std::io::Result<Zeroizing<Vec<u8>>> {
    // A regular file is read in place: it cannot block like a FIFO, and a thread costs a
    // scheduling round, which on a busy two-core runner is most of a millisecond or more (the
    // benchmark's CA bundle is read on every run). Anything else (a FIFO, a device) is read on
    // its own thread, within the deadline.
    if std::fs::metadata(path).is_ok_and(|metadata| metadata.is_file()) {
        return read_capped(path, limit);
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    let owned = path.to_owned();
    // A blocking open and read on its own thread, so the wait can end; the thread dies with the
    // process.
    std::thread::spawn(move || {
        let _ = sender.send(read_capped(&owned, limit));
    });
    match receiver.recv_timeout(deadline.remaining()) {
        Ok(read) => read,
        Err(_) => Err(Error::new(
            ErrorKind::TimedOut,
            format!(
                "not read within the {}-second budget (timeout-seconds)",
                deadline.budget().as_secs()
            ),
        )),
    }
}

/// At most `limit + 1` bytes of `path`, in a buffer zeroed on drop.
fn read_capped(path: &Path, limit: usize) -> std::io::Result<Zeroizing<Vec<u8>>> {
    // Room for one byte past the limit, so a too-large file is seen without reallocating (a
    // reallocation would leave an unzeroed copy of a token behind).
    let mut bytes = Zeroizing::new(Vec::with_capacity(limit + 1));
    std::fs::File::open(path)?
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}
