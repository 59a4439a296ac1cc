//! `token --output FILE`: the access token written to a file nobody else can read, atomically,
//! so that a pod or CI job can hand it to the next tool without it passing through a log.
//!
//! The file holds exactly the token (no trailing newline) with mode 0600. It is written to a new
//! temporary file in the same directory (created exclusively, 0600), flushed to disk, then renamed
//! over `FILE`: a reader sees the old file or the complete new one, never a partial token, and a
//! failed run leaves `FILE` as it was.
//!
//! On Windows, where files inherit their directory's ACL, the temporary file is opened without
//! sharing (nobody else can open it meanwhile) and, before the token is written, given a protected
//! DACL with one entry: full access for the user the process runs as. No inherited entries, so not
//! even Administrators or SYSTEM are granted read access by the ACL; the rename keeps it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// Why the token file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The path names no file (empty, `/`, ending in `..`).
    #[error("--output {0:?} names no file: give a file path such as /var/run/azure/token")]
    NotAFile(PathBuf),
    /// The directory that would hold the file does not exist or is not a directory.
    #[error(
        "--output {path:?}: the directory {dir:?} does not exist: create it or choose another path"
    )]
    NoDirectory {
        /// The path given.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
    },
    /// Creating, writing or renaming failed.
    #[error(
        "--output {path:?}: cannot write the token file ({source}): check that the directory is writable and has space"
    )]
    Write {
        /// The path given.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
}

/// The directory `path` will be written in, checked before any network call.
pub fn check(path: &Path) -> Result<(), TokenFileError> {
    let (dir, _) = split(path)?;
    if dir.is_dir() {
        Ok(())
    } else {
        Err(TokenFileError::NoDirectory {
            path: path.to_owned(),
            dir,
        })
    }
}

fn split(path: &Path) -> Result<(PathBuf, String), TokenFileError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| TokenFileError::NotAFile(path.to_owned()))?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name))
}

/// Writes `token` to `path` (mode 0600, no trailing newline), atomically.
pub fn write(path: &Path, token: &str) -> Result<(), TokenFileError> {
    let (dir, name) = split(path)?;
    let temporary = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let failed = |source| TokenFileError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = create_private(&temporary).map_err(failed)?;
    let written = file
        .write_all(token.as_bytes())
        .and_then(|()| file.sync_all());
    drop(file);
    let renamed = written.and_then(|()| fs::rename(&temporary, path));
    if let Err(error) = renamed {
        // Nothing may be left behind: the temporary file may hold part of the token.
        let _ = fs::remove_file(&temporary);
        return Err(failed(error));
    }
    // Make the rename itself durable; a directory that cannot be synced is not an error.
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A new file readable and writable by its owner only (whatever the umask).
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt as _;
        // FILE_GENERIC_WRITE, plus WRITE_DAC to set the DACL through this handle
        // (https://learn.microsoft.com/en-us/windows/win32/fileio/file-security-and-access-rights);
        // no sharing, so no other handle to the file exists until it is closed.
        const FILE_GENERIC_WRITE: u32 = 0x0012_0116;
        const WRITE_DAC: u32 = 0x0004_0000;
        options
            .access_mode(FILE_GENERIC_WRITE | WRITE_DAC)
            .share_mode(0);
        let mut file = options.open(path)?;
        if let Err(error) = restrict_to_current_user(&mut file) {
            drop(file);
            let _ = fs::remove_file(path);
            return Err(error);
        }
        Ok(file)
    }
    #[cfg(not(any(unix, windows)))]
    {
        options.open(path)
    }
}

/// The SDDL of a DACL that only the user with SID `sid` (in string form) is in: `P` protects it
/// from inheritance, and its one entry allows `FA` (FILE_ALL_ACCESS)
/// (https://learn.microsoft.com/en-us/windows/win32/secauthz/security-descriptor-string-format).
#[cfg(any(windows, test))]
fn owner_only_dacl_sddl(sid: &str) -> String {
    format!("D:P(A;;FA;;;{sid})")
}

/// A security descriptor whose DACL grants the process's user full access and nobody else anything,
/// protected from inheritance.
#[cfg(windows)]
fn owner_only_descriptor()
-> io::Result<windows_permissions::LocalBox<windows_permissions::SecurityDescriptor>> {
    use windows_permissions::utilities::current_process_sid;
    use windows_permissions::wrappers::ConvertSidToStringSid;

    let user = current_process_sid()?;
    let sid = ConvertSidToStringSid(&user)?;
    owner_only_dacl_sddl(&sid.to_string_lossy()).parse()
}

/// Replaces `file`'s DACL by the one of [`owner_only_descriptor`].
#[cfg(windows)]
fn restrict_to_current_user(file: &mut File) -> io::Result<()> {
    use windows_permissions::constants::{SeObjectType, SecurityInformation};
    use windows_permissions::wrappers::SetSecurityInfo;

    let descriptor = owner_only_descriptor()?;
    let dacl = descriptor
        .dacl()
        .ok_or_else(|| io::Error::other("the owner-only security descriptor has no DACL"))?;
    SetSecurityInfo(
        file,
        SeObjectType::SE_FILE_OBJECT,
        SecurityInformation::Dacl | SecurityInformation::ProtectedDacl,
        None,
        None,
        Some(dacl),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::owner_only_dacl_sddl;

    #[test]
    fn the_dacl_is_protected_and_names_only_the_user() {
        assert_eq!(
            owner_only_dacl_sddl("S-1-5-21-1-2-3-1001"),
            "D:P(A;;FA;;;S-1-5-21-1-2-3-1001)"
        );
    }

    /// The descriptor as the Windows API reads it (run under Wine in CI: `.ci/run` runs the library's
    /// tests for x86_64-pc-windows-gnu): protected, one entry, an allow of FILE_ALL_ACCESS for the
    /// process's own user, nothing inheritable.
    #[cfg(windows)]
    #[test]
    fn the_descriptor_allows_the_process_user_alone() {
        use windows_permissions::constants::{AccessRights, AceFlags, AceType};
        use windows_permissions::utilities::current_process_sid;

        let descriptor = super::owner_only_descriptor().expect("descriptor");
        let dacl = descriptor.dacl().expect("a DACL");
        assert_eq!(dacl.len(), 1, "one entry");
        let ace = dacl.get_ace(0).expect("the entry");
        assert_eq!(ace.ace_type(), AceType::ACCESS_ALLOWED_ACE_TYPE);
        assert_eq!(
            ace.flags(),
            AceFlags::empty(),
            "neither inherited nor inheritable"
        );
        // FILE_ALL_ACCESS: STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x1FF.
        assert_eq!(ace.mask(), AccessRights::from_bits_truncate(0x001F_01FF));
        let user = current_process_sid().expect("the process's user");
        assert_eq!(ace.sid(), Some(&*user));
        let sddl = descriptor.as_sddl().expect("SDDL");
        assert!(
            sddl.to_string_lossy().contains("D:P("),
            "protected: {sddl:?}"
        );
    }

    /// `write` on Windows: the token file holds exactly the token, and no temporary file is left.
    #[cfg(windows)]
    #[test]
    fn write_leaves_the_token_and_nothing_else() {
        let dir =
            std::env::temp_dir().join(format!("token-file-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir).expect("temp dir");
        let file = dir.join("token");
        super::write(&file, "header.payload.signature").expect("written");
        super::write(&file, "a.second.token").expect("replaced");
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            "a.second.token"
        );
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 1);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
