//! The native action's installer (`native/install.sh`) where runners differ from this machine.
//!
//! - A hosted runner's environment: a hundred-odd variables, some of several KB, more than 70 KB in
//!   all, hyphenated `INPUT_*` names ([`hosted_runner_env`], around every composite run of the
//!   installer tests). The installer must pass the inputs on every time: run 100 times in a row, so that a failure that happens one run in thirty shows (it did: `env | grep -q` under
//!   `pipefail`, where `env` dies of SIGPIPE once `grep` has its match).
//! - The platform branches, with stand-ins on `PATH` for what those runners have: Git Bash on Windows
//!   (`uname` → `MINGW64_NT-…`, `cygpath`, `RUNNER_TEMP` with a drive letter, `certutil` without
//!   coreutils), macOS (`uname` → `Darwin`, `shasum -a 256` and no `sha256sum`), ARM64 of each, and
//!   platforms with no asset (a clear refusal, nothing downloaded). Each case serves only the asset
//!   it expects, so picking another one is a 404.
//!
//! The stand-ins reproduce what the installer asks of those tools (names, arguments, output format);
//! the real Git Bash, macOS and Windows are not run here (docs/native.md says what is not tested).

#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use azure_oidc_emulator::{Config, Emulator, FileServer, Serve, sha256_hex};

use crate::native::{Composite, PIN_PREFIX, RELEASE_PATH, assert_refused, platform, release, with};
use crate::support::Outcome;

/// How many times the hosted-runner-sized run is repeated: a failure in one run of thirty passes
/// all 100 runs with probability (29/30)^100 ≈ 3 %.
const RUNS: usize = 100;

/// A fake asset that reports, on stdout, that it ran, where it was, and the input it was given
/// (a bash script: dash, a common /bin/sh, drops hyphenated names from the environment it passes on).
fn reporting_asset() -> Vec<u8> {
    b"#!/usr/bin/env bash\nprintf 'asset ran from %s with timeout-seconds=%s\\n' \"$0\" \"$(printenv INPUT_TIMEOUT-SECONDS)\"\n"
        .to_vec()
}

/// The variables of a GitHub-hosted Ubuntu runner's job environment (names as the runner images set
/// them, values of the usual shape), plus what workflows commonly add at job level: a serialised
/// context of tens of KB, a pull request body of several KB, and hyphenated `INPUT_*` names.
pub(crate) fn hosted_runner_env() -> Vec<(String, String)> {
    const NAMES: &[&str] = &[
        "ACCEPT_EULA",
        "ACTIONS_CACHE_URL",
        "ACTIONS_RESULTS_URL",
        "ACTIONS_RUNNER_ACTION_ARCHIVE_CACHE",
        "ACTIONS_RUNTIME_URL",
        "AGENT_TOOLSDIRECTORY",
        "ANDROID_HOME",
        "ANDROID_NDK",
        "ANDROID_NDK_HOME",
        "ANDROID_NDK_LATEST_HOME",
        "ANDROID_NDK_ROOT",
        "ANDROID_SDK_ROOT",
        "ANT_HOME",
        "AZURE_EXTENSION_DIR",
        "BOOTSTRAP_HASKELL_NONINTERACTIVE",
        "CHROMEWEBDRIVER",
        "CHROME_BIN",
        "CONDA",
        "DEBIAN_FRONTEND",
        "DOTNET_MULTILEVEL_LOOKUP",
        "DOTNET_NOLOGO",
        "DOTNET_SKIP_FIRST_TIME_EXPERIENCE",
        "EDGEWEBDRIVER",
        "ENABLE_RUNNER_TRACING",
        "GECKOWEBDRIVER",
        "GHCUP_INSTALL_BASE_PREFIX",
        "GITHUB_ACTION",
        "GITHUB_ACTION_PATH",
        "GITHUB_ACTION_REF",
        "GITHUB_ACTION_REPOSITORY",
        "GITHUB_ACTOR",
        "GITHUB_ACTOR_ID",
        "GITHUB_API_URL",
        "GITHUB_BASE_REF",
        "GITHUB_EVENT_NAME",
        "GITHUB_EVENT_PATH",
        "GITHUB_GRAPHQL_URL",
        "GITHUB_HEAD_REF",
        "GITHUB_JOB",
        "GITHUB_PATH",
        "GITHUB_REF",
        "GITHUB_REF_NAME",
        "GITHUB_REF_PROTECTED",
        "GITHUB_REF_TYPE",
        "GITHUB_REPOSITORY",
        "GITHUB_REPOSITORY_ID",
        "GITHUB_REPOSITORY_OWNER",
        "GITHUB_REPOSITORY_OWNER_ID",
        "GITHUB_RETENTION_DAYS",
        "GITHUB_RUN_ATTEMPT",
        "GITHUB_RUN_ID",
        "GITHUB_RUN_NUMBER",
        "GITHUB_SERVER_URL",
        "GITHUB_SHA",
        "GITHUB_STATE",
        "GITHUB_TRIGGERING_ACTOR",
        "GITHUB_WORKFLOW",
        "GITHUB_WORKFLOW_REF",
        "GITHUB_WORKFLOW_SHA",
        "GITHUB_WORKSPACE",
        "GOROOT_1_21_X64",
        "GOROOT_1_22_X64",
        "GOROOT_1_23_X64",
        "GRADLE_HOME",
        "HOMEBREW_CLEANUP_PERIODIC_FULL_CLEANUP",
        "HOMEBREW_NO_AUTO_UPDATE",
        "IMAGE_OS",
        "IMAGE_VERSION",
        "INVOCATION_ID",
        "JAVA_HOME",
        "JAVA_HOME_11_X64",
        "JAVA_HOME_17_X64",
        "JAVA_HOME_21_X64",
        "JAVA_HOME_8_X64",
        "JOURNAL_STREAM",
        "LANG",
        "LEIN_HOME",
        "LEIN_JAR",
        "NVM_DIR",
        "PIPX_BIN_DIR",
        "PIPX_HOME",
        "POWERSHELL_DISTRIBUTION_CHANNEL",
        "POWERSHELL_UPDATECHECK",
        "RUNNER_ENVIRONMENT",
        "RUNNER_NAME",
        "RUNNER_PERFLOG",
        "RUNNER_TOOL_CACHE",
        "RUNNER_TRACKING_ID",
        "RUNNER_USER",
        "RUNNER_WORKSPACE",
        "SELENIUM_JAR_PATH",
        "SGX_AESM_ADDR",
        "SHELL",
        "SHLVL",
        "STATS_BLT",
        "STATS_D",
        "STATS_EXT",
        "STATS_RDCL",
        "STATS_TRP",
        "STATS_V3PS",
        "STATS_VMD",
        "SWIFT_PATH",
        "SYSTEMD_EXEC_PID",
        "USER",
        "VCPKG_INSTALLATION_ROOT",
        "XDG_CONFIG_HOME",
        "XDG_RUNTIME_DIR",
    ];
    let mut env: Vec<(String, String)> = NAMES
        .iter()
        .map(|name| {
            let value = format!("/opt/hostedtoolcache/{}/x64", name.to_lowercase());
            ((*name).to_owned(), value)
        })
        .collect();
    // Tokens and URLs of the runner's own services: a few KB each.
    for (name, size) in [
        ("ACTIONS_RUNTIME_TOKEN", 1_800),
        ("ACTIONS_RESULTS_TOKEN", 1_800),
        ("GITHUB_TOKEN_PERMISSIONS_JSON", 2_500),
    ] {
        env.push((name.to_owned(), "eyJ0eXAiOiJKV1Qi".repeat(size / 16)));
    }
    // What workflows put in the job's env: `toJSON(github)` (the event payload included) and a pull
    // request's body, multi-line.
    let context = format!(
        "{{\"event\":{{\"pull_request\":{{\"body\":\"{}\"}}}},\"token\":\"***\"}}",
        "INPUT_TIMEOUT-SECONDS=60 is set in the step's env\\n".repeat(1_000)
    );
    env.push(("GITHUB_CONTEXT".to_owned(), context));
    env.push((
        "PR_BODY".to_owned(),
        "## Changes\n- INPUT_TIMEOUT-SECONDS=1 in the docs\n".repeat(200),
    ));
    // Inputs of an enclosing composite action, passed on as env by its author: hyphenated names.
    for name in [
        "GITHUB-TOKEN",
        "WORKING-DIRECTORY",
        "DRY-RUN",
        "CACHE-DEPENDENCY-PATH",
    ] {
        env.push((format!("INPUT_{name}"), "outer".to_owned()));
    }
    env
}

#[test]
fn installer_passes_the_inputs_on_in_a_hosted_runner_sized_environment() {
    let emulator = Emulator::start(Config::default()).unwrap();
    let (_, asset, pin_var) = platform();
    let bytes = reporting_asset();
    let server = release(asset, Serve::File(bytes.clone()));
    let pins = [
        (
            "AZURE_OIDC_TOKEN_RELEASE_URL",
            format!("{}{RELEASE_PATH}", server.base_url()),
        ),
        (pin_var.as_str(), sha256_hex(&bytes)),
    ];
    // Composite::new puts the hosted runner's environment around the step.
    let composite = Composite::new(
        &emulator,
        &with(&emulator, &[("timeout-seconds", "45")]),
        &pins,
        Some(server.ca_pem()),
    );
    let env = &composite.step.env;
    let total: usize = env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let large = env.values().filter(|v| v.len() >= 2_000).count();
    let hyphenated = env
        .keys()
        .filter(|k| k.starts_with("INPUT_") && k.contains('-'))
        .count();
    assert!(
        env.len() >= 100 && total > 70 * 1024 && large >= 3 && hyphenated >= 8,
        "a hosted runner's environment: {} variables, {total} bytes, {large} of 2 KB or more, {hyphenated} hyphenated INPUT_* names",
        env.len()
    );

    let mut failures: Vec<Outcome> = Vec::new();
    for _ in 0..RUNS {
        let outcome = composite.run();
        let ran = outcome.code == Some(0)
            && outcome.stdout.contains("asset ran from ")
            && outcome.stdout.contains("with timeout-seconds=45\n");
        if !ran {
            failures.push(outcome);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {RUNS} runs failed; the first:\n{:?}",
        failures.len(),
        failures[0]
    );
    assert_eq!(
        server.requests().len(),
        2 * RUNS,
        "each run downloads the asset once, through the redirect"
    );
}

// ---- the platform branches, with stand-ins ----------------------------------------------------

/// Programs the installer and the fake asset run, linked from this machine into the stand-in `PATH`
/// (nothing else from the host's `PATH` is visible).
const HOST_TOOLS: &[&str] = &[
    "bash", "sh", "env", "grep", "curl", "mktemp", "rm", "cut", "sed", "tr", "wc", "mv", "chmod",
    "cat", "printenv", "touch",
];

/// One runner platform, as the installer sees it.
struct Platform {
    /// RUNNER_OS and RUNNER_ARCH (`None`: unset, as outside a runner).
    runner: Option<(&'static str, &'static str)>,
    /// What `uname -s` and `uname -m` print there.
    uname: (&'static str, &'static str),
    /// Which SHA-256 tool it has: `sha256sum`, `shasum` or `certutil`.
    hasher: &'static str,
    /// Git Bash: `cygpath`, and RUNNER_TEMP as a Windows path (`D:\a\_temp`).
    git_bash: bool,
}

/// A stand-in program: a shell script under `dir`.
fn stand_in(dir: &Path, name: &str, script: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Where `program` is on this machine's PATH.
fn host_program(program: &str) -> PathBuf {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

/// Builds `root/bin` for `platform` and returns (PATH, RUNNER_TEMP, the POSIX form of RUNNER_TEMP).
fn platform_path(root: &Path, platform: &Platform) -> (String, String, PathBuf) {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in HOST_TOOLS {
        std::os::unix::fs::symlink(host_program(tool), bin.join(tool)).unwrap();
    }
    let sha256sum = host_program("sha256sum");
    let (system, machine) = platform.uname;
    stand_in(
        &bin,
        "uname",
        &format!(
            "case \"$1\" in -s|'') echo '{system}' ;; -m) echo '{machine}' ;; *) exit 2 ;; esac\n"
        ),
    );
    match platform.hasher {
        "sha256sum" => std::os::unix::fs::symlink(&sha256sum, bin.join("sha256sum")).unwrap(),
        // macOS: perl's shasum (the real one where this machine has it), no sha256sum.
        "shasum" => stand_in(
            &bin,
            "shasum",
            &format!(
                "[ \"$1\" = -a ] && [ \"$2\" = 256 ] || {{ echo 'shasum: only -a 256 here' >&2; exit 2; }}\nexec '{}' \"$3\"\n",
                sha256sum.display()
            ),
        ),
        // Windows without Git's coreutils: certutil takes a Windows path and prints a header line,
        // the hash (older versions: upper-case hex pairs separated by spaces), and a footer, CRLF.
        "certutil" => stand_in(
            &bin,
            "certutil",
            &format!(
                "[ \"$1\" = -hashfile ] && [ \"$3\" = SHA256 ] || exit 2\n\
                 file=$(cygpath -u \"$2\")\n\
                 [ -f \"$file\" ] || {{ printf 'CertUtil: -hashfile command FAILED\\r\\n'; exit 2; }}\n\
                 hash=$('{}' \"$file\" | cut -d ' ' -f 1 | tr a-f A-F | sed 's/../& /g; s/ $//')\n\
                 printf 'SHA256 hash of %s:\\r\\n%s\\r\\nCertUtil: -hashfile command completed successfully.\\r\\n' \"$2\" \"$hash\"\n",
                sha256sum.display()
            ),
        ),
        other => panic!("unknown hasher {other}"),
    }
    let posix_temp = root.join("drives/d/a/_temp");
    std::fs::create_dir_all(&posix_temp).unwrap();
    let runner_temp = if platform.git_bash {
        // Git Bash's cygpath: D:\a\_temp <-> /d/a/_temp, with the drives under root/drives here.
        let drives = root.join("drives").display().to_string();
        stand_in(
            &bin,
            "cygpath",
            &format!(
                "drives='{drives}'\n\
                 case \"$1\" in\n\
                 -u) case \"$2\" in\n\
                     [A-Za-z]:\\\\*) d=$(printf %s \"$2\" | cut -c 1 | tr A-Z a-z); printf '%s/%s%s\\n' \"$drives\" \"$d\" \"$(printf %s \"$2\" | cut -c 3- | tr '\\\\' /)\" ;;\n\
                     *) printf '%s\\n' \"$2\" ;;\n\
                     esac ;;\n\
                 -w) rest=${{2#\"$drives\"/}}; [ \"$rest\" != \"$2\" ] || exit 1\n\
                     d=$(printf %s \"$rest\" | cut -c 1 | tr a-z A-Z); printf '%s:%s\\n' \"$d\" \"$(printf %s \"$rest\" | cut -c 2- | tr / '\\\\')\" ;;\n\
                 *) exit 2 ;;\n\
                 esac\n"
            ),
        );
        "D:\\a\\_temp".to_owned()
    } else {
        posix_temp.display().to_string()
    };
    (bin.display().to_string(), runner_temp, posix_temp)
}

/// What a run of the composite on a stand-in platform left.
struct Installed {
    outcome: Outcome,
    /// The POSIX form of RUNNER_TEMP.
    posix_temp: PathBuf,
    /// How many entries RUNNER_TEMP held after the run (the step's directory is gone now).
    left_in_temp: usize,
    server: FileServer,
    emulator: Emulator,
}

/// Runs the composite on `platform`, with the release serving only `asset` (the reporting asset).
fn install_on(platform: &Platform, asset: &str, key: &str) -> Installed {
    let emulator = Emulator::start(Config::default()).unwrap();
    let bytes = reporting_asset();
    let server = release(asset, Serve::File(bytes.clone()));
    let pin_var = format!("{PIN_PREFIX}{key}");
    let pins = [
        (
            "AZURE_OIDC_TOKEN_RELEASE_URL",
            format!("{}{RELEASE_PATH}", server.base_url()),
        ),
        (pin_var.as_str(), sha256_hex(&bytes)),
    ];
    let mut composite = Composite::new(
        &emulator,
        &with(&emulator, &[]),
        &pins,
        Some(server.ca_pem()),
    );
    let root = composite.step.dir.path().join("platform");
    let (path, runner_temp, posix_temp) = platform_path(&root, platform);
    let env: &mut BTreeMap<String, String> = &mut composite.step.env;
    env.insert("PATH".into(), path);
    env.insert("RUNNER_TEMP".into(), runner_temp);
    match platform.runner {
        Some((os, arch)) => {
            env.insert("RUNNER_OS".into(), os.into());
            env.insert("RUNNER_ARCH".into(), arch.into());
        }
        None => {
            env.remove("RUNNER_OS");
            env.remove("RUNNER_ARCH");
        }
    }
    let outcome = composite.run();
    let left_in_temp = std::fs::read_dir(&posix_temp).unwrap().count();
    drop(composite);
    Installed {
        outcome,
        posix_temp,
        left_in_temp,
        server,
        emulator,
    }
}

/// The asset ran from a new directory under RUNNER_TEMP (its POSIX form), which is gone afterwards.
fn assert_ran(installed: &Installed, asset: &str) {
    let Installed {
        outcome,
        posix_temp,
        left_in_temp,
        ..
    } = installed;
    outcome.assert_succeeded();
    let prefix = format!("asset ran from {}/azure-oidc-token.", posix_temp.display());
    let line = outcome
        .stdout
        .lines()
        .find(|l| l.starts_with("asset ran from "))
        .unwrap_or_else(|| panic!("the asset did not run:\n{}", outcome.stdout));
    assert!(
        line.starts_with(&prefix) && line.ends_with(&format!("/{asset} with timeout-seconds=60")),
        "{line}"
    );
    assert!(outcome.stdout.contains(&format!("{asset}, SHA-256 ")));
    assert_eq!(
        *left_in_temp, 0,
        "the installer's directory under RUNNER_TEMP is removed"
    );
}

#[test]
fn installer_on_git_bash_for_windows() {
    for (uname, hasher) in [
        (("MINGW64_NT-10.0-20348", "x86_64"), "sha256sum"),
        // Without Git's coreutils on PATH: certutil, given the Windows path.
        (("MINGW64_NT-10.0-26100", "x86_64"), "certutil"),
    ] {
        let platform = Platform {
            runner: Some(("Windows", "X64")),
            uname,
            hasher,
            git_bash: true,
        };
        let asset = "azure-oidc-token-windows-x64.exe";
        assert_ran(&install_on(&platform, asset, "WINDOWS_X64"), asset);
    }
}

#[test]
fn installer_on_macos_uses_shasum() {
    for (arch, machine, asset, key) in [
        ("X64", "x86_64", "azure-oidc-token-macos-x64", "MACOS_X64"),
        (
            "ARM64",
            "arm64",
            "azure-oidc-token-macos-arm64",
            "MACOS_ARM64",
        ),
    ] {
        let platform = Platform {
            runner: Some(("macOS", arch)),
            uname: ("Darwin", machine),
            hasher: "shasum",
            git_bash: false,
        };
        assert_ran(&install_on(&platform, asset, key), asset);
    }
}

#[test]
fn installer_on_linux_arm64() {
    let platform = Platform {
        runner: Some(("Linux", "ARM64")),
        uname: ("Linux", "aarch64"),
        hasher: "sha256sum",
        git_bash: false,
    };
    let asset = "azure-oidc-token-linux-arm64";
    assert_ran(&install_on(&platform, asset, "LINUX_ARM64"), asset);
}

#[test]
fn installer_outside_a_runner_asks_uname() {
    // RUNNER_OS and RUNNER_ARCH unset (the script run by hand): uname decides.
    for (uname, asset, key) in [
        (
            ("Darwin", "arm64"),
            "azure-oidc-token-macos-arm64",
            "MACOS_ARM64",
        ),
        (
            ("Linux", "aarch64"),
            "azure-oidc-token-linux-arm64",
            "LINUX_ARM64",
        ),
        (
            ("MINGW64_NT-10.0-20348", "x86_64"),
            "azure-oidc-token-windows-x64.exe",
            "WINDOWS_X64",
        ),
    ] {
        let platform = Platform {
            runner: None,
            uname,
            hasher: "sha256sum",
            git_bash: uname.0.starts_with("MINGW"),
        };
        assert_ran(&install_on(&platform, asset, key), asset);
    }
}

#[test]
fn installer_refuses_a_platform_without_an_asset() {
    let cases = [
        // Windows on ARM: no ARM64 build of the Windows binary.
        (
            Some(("Windows", "ARM64")),
            ("MINGW64_NT-10.0-26100-ARM64", "aarch64"),
            "RUNNER_OS=Windows RUNNER_ARCH=ARM64",
        ),
        (
            Some(("Linux", "X86")),
            ("Linux", "i686"),
            "RUNNER_OS=Linux RUNNER_ARCH=X86",
        ),
        // Outside a runner, on a system no asset is built for.
        (None, ("FreeBSD", "amd64"), "FreeBSD"),
        (None, ("Linux", "riscv64"), "riscv64"),
    ];
    for (runner, uname, named) in cases {
        let platform = Platform {
            runner,
            uname,
            hasher: "sha256sum",
            git_bash: false,
        };
        let installed = install_on(&platform, "azure-oidc-token-linux-x64", "LINUX_X64");
        let line = assert_refused(
            &installed.outcome,
            &installed.emulator,
            &[named, "container action"],
        );
        assert!(!installed.outcome.stdout.contains("asset ran"), "{line}");
        assert!(
            installed.server.requests().is_empty(),
            "nothing downloaded: {line}"
        );
    }
}
