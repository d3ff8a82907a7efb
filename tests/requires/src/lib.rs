//! What a test needs from the machine, and the margin its bounds take.
//!
//! Needs: root, a program, a file or directory
//! (such as `../shared/traces`). Each check returns true when the need is
//! met. When it is not, a test run by hand skips with one line naming what
//! is missing and how to get it; under CI (`CI=true` in the environment, as
//! `.ci/run` is run) it fails with that line instead, so a CI run cannot go
//! green by skipping what it was meant to test.

use std::path::Path;

/// The bound a test puts on a figure README claims (the top of its
/// range): twice the figure plus 5 (ms, or packets of a 1 kHz stream). One
/// margin for every timing test on this noisy 2-core VM, where a thread now
/// and then stalls for a few ms whatever the code under test does (4.6 ms
/// seen); a claim that regresses by more fails.
pub fn margin(claimed: f64) -> f64 {
    2.0 * claimed + 5.0
}

/// The bound on a figure measured while the machine itself stalled the
/// same stream by `noise` (ms, or packets of a 1 kHz stream) away from the
/// event: the margin plus that noise. In a quiet run the noise is 0-3 and
/// the bound is the margin; on a loaded host a stall the code under test
/// did not cause does not fail it, and one it did still does.
pub fn margin_over_noise(claimed: f64, noise: f64) -> f64 {
    margin(claimed) + noise
}

/// True under CI: `CI` set to `true` or `1`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Root (network namespaces, TUN/TAP, nftables).
pub fn root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    met(test, euid == 0, "needs root (network namespaces, TUN/TAP)")
}

/// `program` on PATH; `package` is the Debian package that brings it.
pub fn tool(test: &str, program: &str, package: &str) -> bool {
    let found = on_path(program);
    met(
        test,
        found,
        &format!("{program} is not installed (apt-get install {package})"),
    )
}

/// `path` exists; `what` says what it is, for the message.
pub fn path(test: &str, path: &Path, what: &str) -> bool {
    met(
        test,
        path.exists(),
        &format!("{what} not present at {}", path.display()),
    )
}

/// OpenWrt's own userspace built from `../shared/vendor` (`userspace
/// build`): its work directory (`OWRT_WORK`, else the project's
/// `target/openwrt-userspace`), whose `root/usr/bin` holds `uci`, `ubus`,
/// `rpcd`, `opkg`, `apk`...
pub fn openwrt_userspace(test: &str) -> Option<std::path::PathBuf> {
    let work = std::env::var_os("OWRT_WORK").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/openwrt-userspace"),
        std::path::PathBuf::from,
    );
    let built = work.join("root/usr/bin/uci").exists();
    let missing = format!(
        "OpenWrt's userspace is not built at {} (../shared/vendor/openwrt/userspace deps build)",
        work.display()
    );
    met(test, built, &missing).then_some(work)
}

/// The `code` names a document lists after `label`, up to the sentence's
/// end (`.`): how a test holds README's lists (event kinds, ...) to the
/// code's.
pub fn listed_after<'a>(text: &'a str, label: &str) -> Vec<&'a str> {
    let Some(start) = text.find(label) else {
        return Vec::new();
    };
    let rest = &text[start + label.len()..];
    let sentence = rest.split(".\n").next().unwrap_or(rest);
    sentence.split('`').skip(1).step_by(2).collect()
}

/// Panics unless every one of `all` serialises as its `name` (and reads
/// back), and README lists exactly those names after `label`, in order:
/// for enums whose names are a protocol (event kinds).
pub fn names_are_listed<K>(all: &[K], name: impl Fn(&K) -> &'static str, label: &str)
where
    K: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    for k in all {
        let json = serde_json::to_string(k).unwrap();
        assert_eq!(json, format!("\"{}\"", name(k)));
        assert_eq!(&serde_json::from_str::<K>(&json).unwrap(), k);
    }
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
    let names: Vec<&str> = all.iter().map(name).collect();
    assert_eq!(listed_after(readme, label), names, "README's {label}");
}

fn met(test: &str, ok: bool, missing: &str) -> bool {
    met_in(in_ci(), test, ok, missing)
}

fn met_in(ci: bool, test: &str, ok: bool, missing: &str) -> bool {
    if ok {
        return true;
    }
    if ci {
        panic!("{test}: {missing}; with CI=true a missing requirement fails instead of skipping");
    }
    eprintln!("{test}: skipped: {missing}");
    false
}

/// An executable file named `program` in a PATH directory (or `program`
/// itself when it holds a `/`).
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| executable(&dir.join(program)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_path_and_not_others() {
        assert!(on_path("sh"));
        assert!(on_path("/bin/sh"));
        assert!(!on_path("mimm-no-such-program"));
        assert!(!on_path("/etc/passwd"), "not executable");
    }

    #[test]
    fn lists_are_read_to_the_end_of_their_sentence() {
        let text = "Kinds (a): `x`, `y-z`,\n`w`.\nOther `v`.\n";
        assert_eq!(listed_after(text, "Kinds (a):"), ["x", "y-z", "w"]);
        assert!(listed_after(text, "Kinds (b):").is_empty());
    }

    #[test]
    fn a_missing_need_skips_outside_ci_and_fails_in_it() {
        assert!(!met_in(false, "t", false, "x is not installed"));
        assert!(met_in(true, "t", true, "x is not installed"));
        let failed = std::panic::catch_unwind(|| met_in(true, "t", false, "x is not installed"));
        let message = failed.expect_err("CI must fail a missing need");
        let text = message
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(
            text.starts_with("t: x is not installed; with CI=true"),
            "{text}"
        );
        assert!(tool("t", "sh", "dash"));
        assert!(path("t", Path::new("/"), "the root directory"));
    }
}
