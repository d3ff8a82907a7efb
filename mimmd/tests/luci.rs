//! luci-app-mimm in headless Chromium against OpenWrt's own LuCI, uhttpd,
//! rpcd and ubusd (vendor build, in its namespace) and a real mimmd on the
//! testbed: the status table says what `mimmctl --json status` says, the
//! chart (mimmd's ring of recent samples) has one line per interface and a
//! band per threshold, and the prefer button moves mimmd's preference, the
//! switch marked on the chart with its reason.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::vendor::{self, INSTALL_MIMM, repo};
use common::{Mimmd, Scratch, root_or_skip, serial};
use serde_json::Value;

const PORT: &str = "18094";

/// Inside the namespace: the LuCI app installed where its package puts it
/// (mimm's by [`INSTALL_MIMM`] before)...
const INSTALL_APP: &str = r#"
app="$REPO/openwrt/luci-app-mimm"
cp -r "$app/htdocs/." /www/
cp -r "$app/root/." /
rm -rf /tmp/luci-indexcache* /tmp/luci-modulecache
# The services are the children of the vendor script that runs this one.
pkill -HUP -P "$PPID" -x rpcd
for _ in $(seq 50); do ubus list mimm >/dev/null 2>&1 && break; sleep 0.1; done
# LuCI's dispatcher connects to ubus once, when uhttpd loads it before
# forking, so pages served at once share one ubus socket: one child can
# read the other's reply, which then waits out uhttpd's 60 s ("Bad
# Gateway", seen under load). uhttpd again, one LuCI request at a time.
pkill -P "$PPID" -x uhttpd
while curl -s -o /dev/null "http://127.0.0.1:$PORT/"; do sleep 0.05; done
uhttpd -f -p "127.0.0.1:$PORT" -h /www -u /ubus -o /cgi-bin/luci -O /usr/share/ucode/luci/uhttpd.uc -n 1 &
one_at_a_time=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
"#;

/// ...then the services held up until `$OUT/up` goes.
const HOLD: &str = r#"
touch "$OUT/up"
while [ -e "$OUT/up" ]; do sleep 0.2; done
kill "$one_at_a_time"
"#;

/// Logs in to LuCI as a user would; `d`, `base`, `shot` and the selenium
/// names are the script's.
const LOGIN: &str = r#"
import json, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
port, shot = sys.argv[1:3]
base = f"http://127.0.0.1:{port}/cgi-bin/luci"
o = webdriver.ChromeOptions()
o.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1100", "--disable-dev-shm-usage"):
    o.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
def wait(secs, cond, what, show=None):
    # A timeout says what was awaited and what the page showed instead
    # (and what the script `show` returns, when given).
    try:
        return WebDriverWait(d, secs).until(cond)
    except Exception as e:
        shown = d.execute_script("return (document.querySelector('#view') || document.body || {}).innerText || ''")
        more = f"; {show}: {d.execute_script(show)!r}" if show else ""
        raise RuntimeError(f"waited {secs} s for {what} at {d.current_url}{more}; the page showed: {shown[:1500]!r}") from e
def login():
    d.get(base)
    wait(60, lambda d: d.find_element(By.NAME, "luci_password").is_displayed(), "the login form")
    d.find_element(By.NAME, "luci_password").send_keys("secret")
    d.find_element(By.NAME, "luci_password").submit()
    wait(60, lambda d: d.execute_script("return document.querySelector('#view') !== null"), "the view after login")
"#;

/// On the host: log in to LuCI, open the app, read the table and the chart
/// once two polls have drawn, press Prefer on `lte`, wait for the page to
/// say so; prints what it saw as JSON.
const BROWSER: &str = r#"
try:
    login()
    d.get(f"{base}/admin/services/mimm")
    points = "return Array.from(document.querySelectorAll('.mimm-line')).map(l => l.getAttribute('points').split(' ').filter(p => p).length)"
    wait(60, lambda d: (lambda p: len(p) > 0 and min(p) >= 3)(d.execute_script(points)), "3 points on every chart line", points)
    seen = d.execute_script("""
        return {
          rows: Array.from(document.querySelectorAll('tr.mimm-iface')).map(r => ({
            iface: r.dataset.iface, state: r.querySelector('.mimm-state').textContent })),
          primary: document.querySelector('.mimm-primary-name').textContent,
          lines: Array.from(document.querySelectorAll('.mimm-line')).map(l => l.dataset.iface),
          bands: Array.from(document.querySelectorAll('.mimm-chart')).map(c => ({
            iface: c.dataset.iface,
            levels: Array.from(c.querySelectorAll('.mimm-band')).map(b => b.dataset.level) })),
          shaded: document.querySelectorAll('.mimm-primary').length
        };""")
    d.save_screenshot(shot + "-status.png")
    d.find_element(By.CSS_SELECTOR, "button.mimm-prefer[data-iface='lte']").click()
    wait(30, lambda d: "preferred: lte" in d.find_element(By.CSS_SELECTOR, ".mimm-primary-line").text, "'preferred: lte'")
    marks = "return Array.from(document.querySelectorAll('.mimm-chart[data-iface=lte] .mimm-handoff title')).map(t => t.textContent)"
    wait(30, lambda d: any("-> lte" in m for m in d.execute_script(marks)), "the switch to lte marked on its chart")
    d.save_screenshot(shot + "-preferred.png")
    seen["after"] = d.find_element(By.CSS_SELECTOR, ".mimm-primary-line").text
    seen["marks"] = d.execute_script(marks)
    d.get(f"{base}/admin/services/mimm/log")
    details = "return Array.from(document.querySelectorAll('tr.mimm-event[data-kind=switch] .mimm-detail')).map(t => t.textContent)"
    wait(60, lambda d: any("-> lte" in t for t in d.execute_script(details)), "the switch to lte in the log")
    seen["log"] = d.execute_script(details)
    d.save_screenshot(shot + "-log.png")
    print(json.dumps(seen))
finally:
    d.quit()
"#;

/// Brings the namespace up with `inside` (after [`INSTALL_MIMM`] and
/// [`INSTALL_APP`]), calls `ready` once its services are up, runs the
/// selenium script `browser` (port, screenshot prefix, the config file),
/// hands what it printed to `after` while the services are still up, and
/// returns it.
fn browse(
    test: &Dir<'_>,
    inside: &str,
    port: &str,
    browser: &str,
    ready: impl FnOnce(),
    after: impl FnOnce(&Value),
) -> Value {
    let Dir {
        work,
        dir,
        config,
        socket,
    } = test;
    let inside = dir.file(
        "inside.sh",
        &format!("set -eu\n{INSTALL_MIMM}{INSTALL_APP}{inside}{HOLD}"),
    );
    let browser = dir.file("browser.py", &format!("{LOGIN}{browser}"));
    let out = dir.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut ns = vendor::namespace(work, dir, &inside, port, config, socket, &out)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let up = out.join("up");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !up.exists() {
        assert!(
            Instant::now() < deadline,
            "the namespace's services did not come up"
        );
        assert!(
            ns.try_wait().unwrap().is_none(),
            "the namespace ended early"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    ready();
    let shots = repo().join("target/luci-mimm");
    // Debian's python3, where python3-selenium is (not a pyenv on PATH).
    let seen = Command::new("/usr/bin/python3")
        .arg(&browser)
        .arg(port)
        .arg(&shots)
        .arg(config)
        .output()
        .unwrap();
    let finished = seen.status.success();
    let seen = serde_json::from_slice(&seen.stdout).map_err(|_| seen.stderr);
    if let (true, Ok(seen)) = (finished, &seen) {
        eprintln!("{seen}");
        after(seen);
    }
    let _ = std::fs::remove_file(&up);
    let _ = ns.wait();
    seen.unwrap_or_else(|stderr| panic!("{}", String::from_utf8_lossy(&stderr)))
}

/// What [`browse`] needs: the vendor build and the test's scratch files.
struct Dir<'a> {
    work: &'a Path,
    dir: &'a Scratch,
    config: &'a Path,
    socket: &'a Path,
}

/// Root, Chromium and the vendor build, or a one-line skip.
fn browser_or_skip(test: &str) -> Option<PathBuf> {
    if !root_or_skip(test)
        || !mimm_requires::tool(test, "chromium", "chromium")
        || !mimm_requires::tool(test, "chromedriver", "chromium-driver")
    {
        return None;
    }
    mimm_requires::openwrt_userspace(test)
}

#[test]
fn the_luci_app_shows_mimmd_and_steers_it() {
    let test = "the_luci_app_shows_mimmd_and_steers_it";
    let Some(work) = browser_or_skip(test) else {
        return;
    };
    let _serial = serial();
    let (bed, dir, socket, config) = common::lte_and_wifi("luci");
    let m = Mimmd::start(&bed, &config, &socket, &dir.0.join("log"));
    let mut ctl = Value::Null;
    let scratch = Dir {
        work: &work,
        dir: &dir,
        config: &config,
        socket: &socket,
    };
    let seen = browse(
        &scratch,
        "",
        PORT,
        BROWSER,
        || {
            ctl = serde_json::from_slice(&m.ctl(&["--json", "status"]).stdout).unwrap();
        },
        |_| (),
    );

    // The table is mimmctl's view before Prefer was pressed (the testbed
    // is steady: nothing moves until then).
    let ifaces = ctl["interfaces"].as_array().unwrap();
    let rows = seen["rows"].as_array().unwrap();
    assert_eq!(rows.len(), ifaces.len());
    for (row, i) in rows.iter().zip(ifaces) {
        assert_eq!(row["iface"], i["name"]);
        assert_eq!(row["state"], i["state"], "{row}");
    }
    assert_eq!(seen["primary"], "wifi");
    // One line per interface, a band per threshold it has, the primary shaded.
    let names: Vec<&Value> = ifaces.iter().map(|i| &i["name"]).collect();
    assert_eq!(
        seen["lines"].as_array().unwrap().iter().collect::<Vec<_>>(),
        names
    );
    for (chart, i) in seen["bands"].as_array().unwrap().iter().zip(ifaces) {
        let thresholds = i["thresholds"].as_object().unwrap();
        let set = thresholds.values().filter(|v| !v.is_null()).count();
        assert_eq!(chart["levels"].as_array().unwrap().len(), set, "{chart}");
    }
    assert!(seen["shaded"].as_u64().unwrap() >= 1, "{seen}");
    // The switch Prefer caused is marked on lte's chart with mimmd's reason.
    let marks = seen["marks"].as_array().unwrap();
    assert!(
        marks
            .iter()
            .any(|m| m.as_str().unwrap().contains("wifi -> lte: user preference")),
        "{seen}"
    );
    // The log page lists the switches, newest first, with their reasons.
    let log = seen["log"].as_array().unwrap();
    assert!(
        log[0]
            .as_str()
            .unwrap()
            .starts_with("wifi -> lte: user preference"),
        "{seen}"
    );
    assert!(
        log.iter()
            .any(|t| t.as_str().unwrap().starts_with("- -> wifi")),
        "{seen}"
    );
    // mimmd serves the chart's ring: every interface, in order.
    let recent: Value = serde_json::from_slice(&m.ctl(&["recent"]).stdout).unwrap();
    assert_eq!(
        recent["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        names
    );
    assert!(recent["points"].as_array().unwrap().len() >= 3, "{recent}");
    // Prefer moved mimmd's preference, as mimmctl sees it.
    let status = m.wait_for(Duration::from_secs(2), |s| {
        s.preferred.as_deref() == Some("lte")
    });
    assert_eq!(status.preferred.as_deref(), Some("lte"));
}

/// Inside, for the configuration page: `/etc/config` is the directory of
/// the file mimmd runs on (with the base root's other files), so what
/// LuCI applies through rpcd and libuci is what mimmd reloads.
const CONFIG_DIR: &str = r#"
confdir=$(dirname "$CONFIG")
for f in /etc/config/*; do [ "${f##*/}" = mimm ] || cp -p "$f" "$confdir/"; done
mount --bind "$confdir" /etc/config
"#;

/// On the host: lte's thresholds made out of order in the form (refused
/// by the form), then out of order against mimmd's default (refused by
/// `mimmd check` on apply), then a valid change saved and applied; prints
/// what each step showed and the file after the two refusals.
const CONFIG_BROWSER: &str = r#"
conf = sys.argv[3]
def field(opt):
    return d.find_element(By.ID, f"widget.cbid.mimm.lte.{opt}")
def click(e):
    # Centred first: LuCI's fixed header covers the top of the window.
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", e)
    e.click()
def thresholds_tab():
    click(d.find_element(By.XPATH, "//div[@id='cbi-mimm-lte']/preceding-sibling::ul[1]/li[@data-tab='thresholds']/a"))
def put(opt, v):
    thresholds_tab()
    f = field(opt)
    f.clear()
    f.send_keys(v + Keys.TAB)
def save_apply():
    click(d.find_element(By.CSS_SELECTOR, ".cbi-page-actions .cbi-button-apply"))
seen = {}
try:
    login()
    d.get(f"{base}/admin/services/mimm/config")
    wait(60, lambda d: d.find_elements(By.ID, "widget.cbid.mimm.lte.stable"), "the form")
    seen["sections"] = d.execute_script("return Array.from(document.querySelectorAll('.cbi-section > h3')).map(h => h.textContent)")
    put("deteriorating", "75")
    put("active", "65")
    seen["invalid"] = d.execute_script("return Array.from(document.querySelectorAll('.cbi-input-invalid')).map(e => e.id)")
    save_apply()
    wait(20, lambda d: "invalid input value" in d.find_element(By.TAG_NAME, "body").text, "the form's refusal")
    seen["form_error"] = d.find_element(By.CSS_SELECTOR, ".modal").text
    d.save_screenshot(shot + "-config-invalid.png")
    d.find_element(By.XPATH, "//div[contains(@class,'modal')]//button[normalize-space()='Dismiss']").click()
    put("active", "")
    save_apply()
    wait(30, lambda d: d.find_elements(By.CSS_SELECTOR, ".mimm-check-error"), "mimmd's refusal")
    seen["check_error"] = d.find_element(By.CSS_SELECTOR, ".mimm-check-error").text
    d.execute_script("window.scrollTo(0, 0)")
    d.save_screenshot(shot + "-config-refused.png")
    seen["file_after_refusals"] = open(conf).read()
    put("deteriorating", "")
    put("stable", "95")
    save_apply()
    wait(60, lambda d: "Configuration changes applied" in d.find_element(By.TAG_NAME, "body").text, "the changes applied")
    d.save_screenshot(shot + "-config.png")
    print(json.dumps(seen))
except Exception:
    d.save_screenshot(shot + "-config-failed.png")
    open(shot + "-config-failed.html", "w").write(d.page_source)
    raise
finally:
    d.quit()
"#;

#[test]
fn the_luci_configuration_page_checks_applies_and_reloads() {
    let test = "the_luci_configuration_page_checks_applies_and_reloads";
    let Some(work) = browser_or_skip(test) else {
        return;
    };
    let _serial = serial();
    let (bed, dir, socket, shipped) = common::lte_and_wifi("luci-config");
    // A directory of its own: it becomes the namespace's /etc/config.
    let config = dir.0.join("etc/mimm");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::copy(&shipped, &config).unwrap();
    let before = std::fs::read_to_string(&config).unwrap();
    let m = Mimmd::start(&bed, &config, &socket, &dir.0.join("log"));
    let stable = |s: &mimm_mimmd::control::proto::Status| {
        s.interfaces
            .iter()
            .find(|i| i.name == "lte")
            .map(|i| i.thresholds.stable)
    };
    let default_stable = stable(&m.status()).unwrap();
    let mut reloaded = None;
    let scratch = Dir {
        work: &work,
        dir: &dir,
        config: &config,
        socket: &socket,
    };
    let seen = browse(
        &scratch,
        CONFIG_DIR,
        "18095",
        CONFIG_BROWSER,
        || (),
        |_| {
            // mimmd reloads once LuCI has applied (the page asks it to).
            reloaded = Some(m.wait_for(Duration::from_secs(10), |s| stable(s) == Some(95.0)));
        },
    );

    // Every section type mimmd reads has its part of the form.
    for section in [
        "Globals",
        "Interfaces",
        "Virtual subnet device",
        "MIMM server",
    ] {
        assert!(
            seen["sections"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == section),
            "{seen}"
        );
    }
    // Out of order in the form: refused there, naming both thresholds.
    let both = ["deteriorating", "active"].map(|t| format!("widget.cbid.mimm.lte.{t}"));
    assert_eq!(seen["invalid"], serde_json::json!(both), "{seen}");
    let form_error = seen["form_error"].as_str().unwrap();
    assert!(
        form_error.contains("deteriorating 75 must be below active 65"),
        "{form_error}"
    );
    // Out of order against the default active (70 for a quality metric):
    // mimmd check refuses.
    let check_error = seen["check_error"].as_str().unwrap();
    assert!(
        check_error.starts_with("interface lte: thresholds must rise strictly")
            && check_error.contains("deteriorating 75 >= active 70"),
        "{check_error}"
    );
    assert_eq!(
        seen["file_after_refusals"],
        before.as_str(),
        "a refused change reached the file"
    );
    // The valid change: written by libuci (rpcd's apply), reloaded by mimmd.
    let after = std::fs::read_to_string(&config).unwrap();
    assert!(after.contains("\toption stable '95'\n"), "{after}");
    assert!(!after.contains("deteriorating"), "{after}");
    let status = reloaded.expect("the browser did not finish");
    assert_eq!(stable(&status), Some(95.0));
    assert_ne!(default_stable, 95.0);
}

/// The JS function `name` of `js`: from its `function name(` to the
/// closing brace at the start of a line.
fn js_function<'a>(js: &'a str, name: &str) -> &'a str {
    let start = js
        .find(&format!("\nfunction {name}("))
        .unwrap_or_else(|| panic!("config.js has no function {name}"));
    let len = js[start + 1..].find("\n}").unwrap();
    &js[start..start + 1 + len]
}

/// The options a form function creates: the name after the section and
/// tab in `value(s, TAB, 'name'`, `flag(...`, `list(...` and after
/// `form.DynamicList, '`.
fn options_created(body: &str) -> Vec<&str> {
    let mut names = Vec::new();
    for call in ["value(s, ", "flag(s, ", "list(s, "] {
        for (at, _) in body.match_indices(call) {
            let rest = &body[at + call.len()..];
            let after_tab = &rest[rest.find(", ").unwrap() + 2..];
            if let Some(quoted) = after_tab.strip_prefix('\'') {
                names.push(&quoted[..quoted.find('\'').unwrap()]);
            }
        }
    }
    for (at, _) in body.match_indices("form.DynamicList, '") {
        let rest = &body[at + "form.DynamicList, '".len()..];
        names.push(&rest[..rest.find('\'').unwrap()]);
    }
    names
}

#[test]
fn the_configuration_form_offers_every_option_mimmd_reads_and_no_other() {
    let js = std::fs::read_to_string(
        repo().join("openwrt/luci-app-mimm/htdocs/luci-static/resources/view/mimm/config.js"),
    )
    .unwrap();
    for (kind, function) in [
        ("globals", "globals"),
        ("interface", "interfaces"),
        ("vsd", "vsd"),
        ("server", "server"),
    ] {
        let body = js_function(&js, function);
        let known = mimm_mimmd::config::options_of(kind);
        let mut created = options_created(body);
        if body.contains("averaging(s, ") {
            created.extend(options_created(js_function(&js, "averaging")));
        }
        if body.contains("LEVELS.forEach") {
            created.extend(["available", "inactive", "deteriorating", "active", "stable"]);
        }
        for option in &known {
            assert!(
                created.contains(option),
                "config {kind}: the form lacks {option}"
            );
        }
        // mimmd refuses an unknown option: the form must never write one.
        for option in &created {
            assert!(
                known.contains(option),
                "config {kind}: mimmd reads no {option}"
            );
        }
    }
}
