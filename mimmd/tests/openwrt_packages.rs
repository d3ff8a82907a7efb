//! mimm's packages: the .ipk as opkg expects it, installed, upgraded and
//! removed by OpenWrt's own opkg (vendor build) into an offline root; the
//! same packages as .apk through apk-tools v3 (OpenWrt 25.x); the feed
//! Makefile installing what the manifests list.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{MIMMCTL, MIMMD, Scratch};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .into()
}

/// The packages mkipk makes, each from openwrt/pkg/NAME: name, its conffile,
/// its package scripts.
const PACKAGES: [(&str, &str, &[&str]); 2] = [
    ("mimm", "/etc/config/mimm", &["postinst", "prerm", "postrm"]),
    (
        "mimm-server",
        "/etc/config/mimm-server",
        &["postinst", "prerm"],
    ),
];

/// (source, destination, mode) of every line of a package's manifest.
fn manifest(package: &str) -> Vec<(String, String, u32)> {
    let path = format!("openwrt/pkg/{package}/manifest");
    std::fs::read_to_string(repo().join(&path))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 3, "{path}: {l:?}");
            (
                f[0].into(),
                f[1].into(),
                u32::from_str_radix(f[2], 8).unwrap(),
            )
        })
        .collect()
}

fn tar_list(archive: &Path) -> String {
    let out = Command::new("tar")
        .arg("-tvzf")
        .arg(archive)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The binaries the packages hold, as this build made them, in `dir/bin`,
/// stripped as the cross build strips them (a debug build's are ten times
/// larger, and gzip -9 over them would take most of the test's time).
fn binaries(dir: &Scratch) -> PathBuf {
    let bins = dir.0.join("bin");
    if bins.exists() {
        return bins;
    }
    std::fs::create_dir_all(&bins).unwrap();
    for (name, from) in [
        ("mimmd", PathBuf::from(MIMMD)),
        ("mimmctl", PathBuf::from(MIMMCTL)),
        ("vsd", common::workspace_binary("mimm-vsd", "vsd")),
        (
            "mimm-server",
            common::workspace_binary("mimm-server", "mimm-server"),
        ),
    ] {
        let to = bins.join(name);
        std::fs::copy(from, &to).unwrap();
        let stripped = Command::new("strip").arg(&to).status().unwrap();
        assert!(stripped.success(), "strip {}", to.display());
    }
    bins
}

/// `openwrt/mkipk ARCH` for `release` into `out`.
fn mkipk(dir: &Scratch, arch: &str, release: u32, out: &Path) {
    mkipk_with(dir, arch, release, out, None);
}

/// [`mkipk`], making the .apk too with the apk-tools binary `apk`.
fn mkipk_with(dir: &Scratch, arch: &str, release: u32, out: &Path, apk: Option<&Path>) {
    let mut cmd = Command::new(repo().join("openwrt/mkipk"));
    cmd.arg(arch)
        .arg(binaries(dir))
        .arg(out)
        .env("MKIPK_RELEASE", release.to_string());
    if let Some(apk) = apk {
        cmd.env("MKIPK_APK", apk);
    }
    let run = cmd.output().unwrap();
    assert!(run.status.success(), "{run:?}");
}

#[test]
fn the_ipks_hold_what_opkg_expects() {
    let dir = Scratch::new("ipk");
    mkipk(&dir, "mips_24kc", 1, &dir.0.join("out"));
    for (package, conffile, scripts) in PACKAGES {
        check_ipk(&dir, package, conffile, scripts);
    }
}

fn check_ipk(dir: &Scratch, package: &str, conffile: &str, scripts: &[&str]) {
    let ipk = dir.0.join(format!("out/{package}_0.1.0-1_mips_24kc.ipk"));
    let outer = tar_list(&ipk);
    let names: Vec<&str> = outer
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["./debian-binary", "./data.tar.gz", "./control.tar.gz"]
    );
    let x = dir.0.join(format!("x-{package}"));
    std::fs::create_dir_all(&x).unwrap();
    let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
    ok(Command::new("tar").arg("-xzf").arg(&ipk).arg("-C").arg(&x));
    assert_eq!(
        std::fs::read_to_string(x.join("debian-binary")).unwrap(),
        "2.0\n"
    );
    let (data, control) = (x.join("data"), x.join("control"));
    for (archive, into) in [("data.tar.gz", &data), ("control.tar.gz", &control)] {
        std::fs::create_dir_all(into).unwrap();
        ok(Command::new("tar")
            .arg("-xzf")
            .arg(x.join(archive))
            .arg("-C")
            .arg(into));
    }

    // Every manifest file at its path with its mode, owned by root, and
    // nothing else.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let listing = tar_list(&x.join("data.tar.gz"));
    let mut size = 0;
    let entries = manifest(package);
    for (src, dest, mode) in &entries {
        let meta =
            std::fs::metadata(data.join(&dest[1..])).unwrap_or_else(|e| panic!("{dest}: {e}"));
        assert_eq!(meta.permissions().mode() & 0o7777, *mode, "{dest}");
        size += meta.size();
        let line = listing
            .lines()
            .find(|l| l.ends_with(&format!(".{dest}")))
            .unwrap();
        assert!(line.contains(" 0/0 "), "{line}");
        if !src.starts_with("bin/") {
            assert_eq!(
                std::fs::read(data.join(&dest[1..])).unwrap(),
                std::fs::read(repo().join(src)).unwrap()
            );
        }
    }
    let files = listing.lines().filter(|l| l.starts_with('-')).count();
    assert_eq!(files, entries.len(), "{listing}");

    let fields = std::fs::read_to_string(control.join("control")).unwrap();
    let field = |name: &str| {
        fields
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in\n{fields}"))
            .to_string()
    };
    assert_eq!(field("Package"), package);
    assert_eq!(field("Version"), "0.1.0-1");
    assert_eq!(field("Architecture"), "mips_24kc");
    assert!(field("Depends").starts_with("libc"));
    assert_eq!(field("Installed-Size"), size.to_string());
    for name in ["License", "Section", "Maintainer", "Source", "Description"] {
        assert!(!field(name).is_empty(), "{name}");
    }
    assert_eq!(
        std::fs::read_to_string(control.join("conffiles")).unwrap(),
        format!("{conffile}\n")
    );
    for script in scripts {
        let meta = std::fs::metadata(control.join(script)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o111, 0o111, "{script}");
    }
}

#[test]
fn the_feed_makefile_installs_what_the_manifests_list() {
    let makefile = std::fs::read_to_string(repo().join("openwrt/mimm/Makefile")).unwrap();
    for (package, conffile, _) in PACKAGES {
        // The package's install block.
        let start = format!("define Package/{package}/install\n");
        let block = &makefile[makefile.find(&start).unwrap() + start.len()..];
        let block = &block[..block.find("endef").unwrap()];
        let installs: Vec<&str> = block
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("$(INSTALL_") && !l.starts_with("$(INSTALL_DIR)"))
            .collect();
        let entries = manifest(package);
        assert_eq!(installs.len(), entries.len(), "{package}: {installs:#?}");
        for (src, dest, mode) in entries {
            let from = match src.strip_prefix("bin/") {
                Some(bin) => format!("$(PKG_INSTALL_DIR)/bin/{bin}"),
                None => format!("$(MIMM_SOURCE)/{src}"),
            };
            let how = match mode {
                0o755 => "$(INSTALL_BIN)",
                0o644 => "$(INSTALL_DATA)",
                0o600 => "$(INSTALL_CONF)",
                m => panic!("mode {m:o} has no OpenWrt install macro"),
            };
            let want = format!("{how} {from} $(1){dest}");
            assert!(
                installs.contains(&want.as_str()),
                "{package}: missing {want}"
            );
        }
        let conffiles = format!("define Package/{package}/conffiles\n{conffile}\nendef");
        assert!(makefile.contains(&conffiles), "{conffiles}");
        assert!(makefile.contains(&format!("$(eval $(call BuildPackage,{package}))")));
    }
}

/// Every file of `package`'s manifest where `at` puts its destination, with
/// its mode; those not built (scripts, config, ACL) byte for byte as shipped.
fn installed_as_listed(package: &str, at: impl Fn(&str) -> PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    for (src, dest, mode) in manifest(package) {
        let meta = std::fs::metadata(at(&dest)).unwrap_or_else(|e| panic!("{dest}: {e}"));
        assert_eq!(meta.permissions().mode() & 0o7777, mode, "{dest}");
        if !src.starts_with("bin/") {
            let shipped = std::fs::read(repo().join(&src)).unwrap();
            assert_eq!(std::fs::read(at(&dest)).unwrap(), shipped, "{dest}");
        }
    }
}

/// Edits a conffile as a user would; returns what it now holds.
fn edit(conffile: &Path) -> String {
    let edited = format!(
        "{}# edited on the router\n",
        std::fs::read_to_string(conffile).unwrap()
    );
    std::fs::write(conffile, &edited).unwrap();
    edited
}

/// After removal: the manifest's files gone, the edited conffile left.
fn removed_but_edited_conffile(
    package: &str,
    conffile: &str,
    edited: &str,
    at: impl Fn(&str) -> PathBuf,
) {
    for (_, dest, _) in manifest(package) {
        if dest != conffile {
            assert!(!at(&dest).exists(), "{dest} left behind");
        }
    }
    assert_eq!(std::fs::read_to_string(at(conffile)).unwrap(), edited);
}

/// OpenWrt's opkg on an offline root made by the vendor script (libc,
/// kmod-tun and nftables marked installed, as on a device; kmod-sched-core
/// added here), maintainer
/// scripts run with `IPKG_INSTROOT` set, as an image build runs them.
struct Opkg {
    opkg: PathBuf,
    root: PathBuf,
}

impl Opkg {
    fn new(work: &Path, dir: &Scratch) -> Opkg {
        let root = dir.0.join("root");
        let script = repo().join("../shared/vendor/openwrt/userspace");
        let made = Command::new(script)
            .arg("opkg-root")
            .arg(&root)
            .env("OWRT_WORK", work)
            .status()
            .unwrap();
        assert!(made.success());
        // The VSD's kernel path needs kmod-sched-core, as the device has it.
        let mut status = std::fs::OpenOptions::new()
            .append(true)
            .open(root.join("usr/lib/opkg/status"))
            .unwrap();
        std::io::Write::write_all(
            &mut status,
            b"Package: kmod-sched-core\nVersion: 6.6.0-1\nStatus: install ok installed\nArchitecture: x86_64\n\n",
        )
        .unwrap();
        std::fs::write(root.join("usr/lib/opkg/info/kmod-sched-core.list"), "").unwrap();
        Opkg {
            opkg: work.join("root/usr/bin/opkg"),
            root,
        }
    }

    /// `opkg ARGS` (verbose, so it names each script it runs); its output.
    fn run(&self, args: &[&str], ipk: Option<&Path>) -> String {
        let mut cmd = Command::new(&self.opkg);
        cmd.arg("-f")
            .arg(self.root.join("etc/opkg.conf"))
            .arg("--offline-root")
            .arg(&self.root)
            .args(["--force-postinstall", "-V2"])
            .args(args)
            .env("IPKG_INSTROOT", &self.root);
        if let Some(ipk) = ipk {
            cmd.arg(ipk);
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "opkg {args:?}: {text}");
        text
    }

    fn path(&self, dest: &str) -> PathBuf {
        self.root.join(dest.trim_start_matches('/'))
    }

    /// The installed version of `package` per opkg's status file.
    fn version(&self, package: &str) -> Option<String> {
        let status = std::fs::read_to_string(self.path("/usr/lib/opkg/status")).unwrap();
        let entry = status
            .split("\n\n")
            .find(|e| e.starts_with(&format!("Package: {package}\n")))?;
        entry
            .lines()
            .find_map(|l| l.strip_prefix("Version: ").map(str::to_string))
    }
}

#[test]
fn opkg_installs_upgrades_and_removes_the_packages() {
    let test = "opkg_installs_upgrades_and_removes_the_packages";
    let Some(work) = mimm_requires::openwrt_userspace(test) else {
        return;
    };
    let dir = Scratch::new("opkg");
    let (first, second) = (dir.0.join("r1"), dir.0.join("r2"));
    mkipk(&dir, "x86_64", 1, &first);
    mkipk(&dir, "x86_64", 2, &second);
    let opkg = Opkg::new(&work, &dir);
    let ipk = |out: &Path, package: &str, release: u32| {
        out.join(format!("{package}_0.1.0-{release}_x86_64.ipk"))
    };

    for (package, conffile, _) in PACKAGES {
        // Install: every file of the manifest where it belongs, with its
        // mode; the postinst run, and with IPKG_INSTROOT it touches nothing.
        let log = opkg.run(&["install"], Some(&ipk(&first, package, 1)));
        assert!(log.contains(&format!("{package}.postinst")), "{log}");
        assert_eq!(opkg.version(package).as_deref(), Some("0.1.0-1"));
        installed_as_listed(package, |d| opkg.path(d));
        // Upgrade: the user's edit of the conffile kept, the new default
        // beside it as opkg names it.
        let edited = edit(&opkg.path(conffile));
        opkg.run(&["install"], Some(&ipk(&second, package, 2)));
        assert_eq!(opkg.version(package).as_deref(), Some("0.1.0-2"));
        assert_eq!(
            std::fs::read_to_string(opkg.path(conffile)).unwrap(),
            edited
        );
        assert!(opkg.path(&format!("{conffile}-opkg")).exists());
        // Remove: the files gone, the edited conffile left.
        opkg.run(&["remove", package], None);
        assert_eq!(opkg.version(package), None);
        removed_but_edited_conffile(package, conffile, &edited, |d| opkg.path(d));
    }
}

/// apk-tools v3 on an empty offline root, scripts run outside a chroot
/// with `IPKG_INSTROOT` set, as an image build runs them.
fn apk(work: &Path, root: &Path, args: &[&str], package: Option<&Path>) -> String {
    let mut cmd = Command::new(work.join("root/usr/bin/apk"));
    cmd.arg("--root")
        .arg(root)
        .args(["--allow-untrusted", "--no-network", "--force-no-chroot"])
        .args(args)
        .env("IPKG_INSTROOT", root);
    if let Some(p) = package {
        cmd.arg(p);
    }
    let out = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "apk {args:?}: {text}");
    text
}

/// An empty package named `name`, standing for what a device has.
fn device_package(work: &Path, dir: &Scratch, name: &str) -> PathBuf {
    let files = dir.0.join("empty");
    std::fs::create_dir_all(&files).unwrap();
    let out = dir.0.join(format!("{name}.apk"));
    if !out.exists() {
        let made = Command::new(work.join("root/usr/bin/apk"))
            .arg("mkpkg")
            .args(["--info", &format!("name:{name}"), "--info", "version:1-r1"])
            .args(["--info", "arch:x86_64", "--info", "description:device"])
            .arg("--files")
            .arg(&files)
            .arg("--output")
            .arg(&out)
            .status()
            .unwrap();
        assert!(made.success());
    }
    out
}

/// A new apk database in `root` with what a device has installed already,
/// as empty packages.
fn apk_root(work: &Path, dir: &Scratch, root: &Path, device: &[&str]) {
    std::fs::create_dir_all(root).unwrap();
    let deps: Vec<PathBuf> = device
        .iter()
        .map(|d| device_package(work, dir, d))
        .collect();
    let mut init = Command::new(work.join("root/usr/bin/apk"));
    init.arg("--root")
        .arg(root)
        .args(["--allow-untrusted", "--no-network", "--force-no-chroot"])
        .args(["add", "--initdb"])
        .args(&deps);
    assert!(init.status().unwrap().success());
}

#[test]
fn apk_installs_upgrades_and_removes_the_packages() {
    let test = "apk_installs_upgrades_and_removes_the_packages";
    let Some(work) = mimm_requires::openwrt_userspace(test) else {
        return;
    };
    let dir = Scratch::new("apk");
    let tool = work.join("root/usr/bin/apk");
    let (first, second) = (dir.0.join("r1"), dir.0.join("r2"));
    mkipk_with(&dir, "x86_64", 1, &first, Some(&tool));
    mkipk_with(&dir, "x86_64", 2, &second, Some(&tool));
    for (package, conffile, _) in PACKAGES {
        let root = dir.0.join(format!("root-{package}"));
        std::fs::create_dir_all(&root).unwrap();
        let at = |dest: &str| root.join(dest.trim_start_matches('/'));
        let file = |out: &Path, r: u32| out.join(format!("{package}-0.1.0-r{r}.apk"));
        apk_root(
            &work,
            &dir,
            &root,
            &["libc", "kmod-tun", "nftables", "kmod-sched-core"],
        );
        let log = apk(&work, &root, &["add"], Some(&file(&first, 1)));
        assert!(
            log.contains(&format!("Installing {package} (0.1.0-r1)")),
            "{log}"
        );
        installed_as_listed(package, at);
        let listed =
            std::fs::read_to_string(at(&format!("/lib/apk/packages/{package}.conffiles"))).unwrap();
        assert_eq!(listed.trim(), conffile);
        let edited = edit(&at(conffile));
        let log = apk(&work, &root, &["add"], Some(&file(&second, 2)));
        assert!(log.contains("0.1.0-r1 -> 0.1.0-r2"), "{log}");
        assert_eq!(std::fs::read_to_string(at(conffile)).unwrap(), edited);
        assert!(at(&format!("{conffile}.apk-new")).exists());
        apk(&work, &root, &["del", package], None);
        removed_but_edited_conffile(package, conffile, &edited, at);
    }
}

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_luci_app_is_packaged_as_luci_mk_packages_it() {
    // luci.mk installs htdocs/ under /www and root/ under /: the manifest
    // lists exactly that, so mkipk's package and the feed's agree.
    let app = repo().join("openwrt/luci-app-mimm");
    let mut want: Vec<(String, String, u32)> = Vec::new();
    for (part, prefix) in [("htdocs", "/www/"), ("root", "/")] {
        for file in files_under(&app.join(part)) {
            let src = format!("openwrt/luci-app-mimm/{part}/{file}");
            want.push((src, format!("{prefix}{file}"), 0o644));
        }
    }
    let mut listed = manifest("luci-app-mimm");
    listed.sort();
    want.sort();
    assert_eq!(listed, want);
    let makefile = std::fs::read_to_string(app.join("Makefile")).unwrap();
    for line in [
        "include $(TOPDIR)/rules.mk",
        "LUCI_DEPENDS:=+luci-base +mimm",
        "LUCI_PKGARCH:=all",
        "include $(TOPDIR)/feeds/luci/luci.mk",
        // The buildroot finds a LuCI package by this line.
        "# call BuildPackage - OpenWrt buildroot signature",
    ] {
        assert!(
            makefile.lines().any(|l| l == line),
            "Makefile lacks {line:?}"
        );
    }
    let fields = std::fs::read_to_string(repo().join("openwrt/pkg/luci-app-mimm/fields")).unwrap();
    assert!(
        fields.contains("Depends: libc, luci-base, mimm\n"),
        "{fields}"
    );
    assert!(fields.contains("Architecture: all\n"), "{fields}");
}

#[test]
fn the_luci_app_package_installs_beside_mimm_with_opkg_and_apk() {
    let test = "the_luci_app_package_installs_beside_mimm_with_opkg_and_apk";
    let Some(work) = mimm_requires::openwrt_userspace(test) else {
        return;
    };
    let dir = Scratch::new("luci-pkg");
    let out = dir.0.join("out");
    let tool = work.join("root/usr/bin/apk");
    mkipk_with(&dir, "x86_64", 1, &out, Some(&tool));

    // opkg: luci-base marked installed as on a device, mimm first.
    let opkg = Opkg::new(&work, &dir);
    let status = opkg.path("/usr/lib/opkg/status");
    let mut text = std::fs::read_to_string(&status).unwrap();
    text +=
        "Package: luci-base\nVersion: 25.1-r1\nStatus: install ok installed\nArchitecture: all\n\n";
    std::fs::write(&status, text).unwrap();
    std::fs::write(opkg.path("/usr/lib/opkg/info/luci-base.list"), "").unwrap();
    let ipk = out.join("luci-app-mimm_0.1.0-1_all.ipk");
    let refused = Command::new(&opkg.opkg)
        .arg("-f")
        .arg(opkg.path("/etc/opkg.conf"))
        .arg("--offline-root")
        .arg(&opkg.root)
        .arg("install")
        .arg(&ipk)
        .output()
        .unwrap();
    assert_eq!(
        opkg.version("luci-app-mimm"),
        None,
        "installed without mimm: {refused:?}"
    );
    opkg.run(&["install"], Some(&out.join("mimm_0.1.0-1_x86_64.ipk")));
    let log = opkg.run(&["install"], Some(&ipk));
    assert!(log.contains("luci-app-mimm.postinst"), "{log}");
    installed_as_listed("luci-app-mimm", |d| opkg.path(d));
    opkg.run(&["remove", "luci-app-mimm"], None);
    for (_, dest, _) in manifest("luci-app-mimm") {
        assert!(!opkg.path(&dest).exists(), "{dest} left behind");
    }
    assert!(opkg.path("/usr/sbin/mimmd").exists(), "mimm went with it");

    // apk: the same, noarch.
    let root = dir.0.join("apk-root");
    std::fs::create_dir_all(&root).unwrap();
    apk_root(
        &work,
        &dir,
        &root,
        &[
            "libc",
            "kmod-tun",
            "nftables",
            "kmod-sched-core",
            "luci-base",
        ],
    );
    apk(&work, &root, &["add"], Some(&out.join("mimm-0.1.0-r1.apk")));
    let log = apk(
        &work,
        &root,
        &["add"],
        Some(&out.join("luci-app-mimm-0.1.0-r1.apk")),
    );
    assert!(log.contains("Installing luci-app-mimm (0.1.0-r1)"), "{log}");
    let at = |dest: &str| root.join(dest.trim_start_matches('/'));
    installed_as_listed("luci-app-mimm", at);
    apk(&work, &root, &["del", "luci-app-mimm"], None);
    for (_, dest, _) in manifest("luci-app-mimm") {
        assert!(!at(&dest).exists(), "{dest} left behind");
    }
}
