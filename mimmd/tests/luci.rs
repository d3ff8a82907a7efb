//! luci-app-mimm in headless Chromium against OpenWrt's own LuCI, uhttpd,
//! rpcd and ubusd (vendor build, in its namespace) and a real mimmd on the
//! testbed: the status table says what `mimmctl --json status` says, the
//! chart (mimmd's ring of recent samples) has one line per interface and a
//! band per threshold, and the prefer button moves mimmd's preference, the
//! switch marked on the chart with its reason.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::vendor::{self, INSTALL_MIMM, repo};
use common::{Mimmd, root_or_skip, serial};
use serde_json::Value;

const PORT: &str = "18094";

/// Inside the namespace: mimm's package and the LuCI app installed where
/// their packages put them, then the services held up until `$OUT/up` goes.
const INSIDE: &str = r#"
app="$REPO/openwrt/luci-app-mimm"
cp -r "$app/htdocs/." /www/
cp -r "$app/root/." /
rm -rf /tmp/luci-indexcache* /tmp/luci-modulecache
kill -HUP "$(pidof rpcd)"
for _ in $(seq 50); do ubus list mimm >/dev/null 2>&1 && break; sleep 0.1; done
touch "$OUT/up"
while [ -e "$OUT/up" ]; do sleep 0.2; done
"#;

/// On the host: log in to LuCI, open the app, read the table and the chart
/// once two polls have drawn, press Prefer on `lte`, wait for the page to
/// say so; prints what it saw as JSON.
const BROWSER: &str = r#"
import json, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
port, shot = sys.argv[1:3]
base = f"http://127.0.0.1:{port}/cgi-bin/luci"
o = webdriver.ChromeOptions()
o.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1100", "--disable-dev-shm-usage"):
    o.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
try:
    d.get(base)
    WebDriverWait(d, 60).until(lambda d: d.find_element(By.NAME, "luci_password").is_displayed())
    d.find_element(By.NAME, "luci_password").send_keys("secret")
    d.find_element(By.NAME, "luci_password").submit()
    WebDriverWait(d, 60).until(lambda d: d.execute_script("return document.querySelector('#view') !== null"))
    d.get(f"{base}/admin/services/mimm")
    points = "return Array.from(document.querySelectorAll('.mimm-line')).map(l => l.getAttribute('points').split(' ').filter(p => p).length)"
    WebDriverWait(d, 60).until(lambda d: (lambda p: len(p) > 0 and min(p) >= 3)(d.execute_script(points)))
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
    WebDriverWait(d, 30).until(lambda d: "preferred: lte" in d.find_element(By.CSS_SELECTOR, ".mimm-primary-line").text)
    marks = "return Array.from(document.querySelectorAll('.mimm-chart[data-iface=lte] .mimm-handoff title')).map(t => t.textContent)"
    WebDriverWait(d, 30).until(lambda d: any("-> lte" in m for m in d.execute_script(marks)))
    d.save_screenshot(shot + "-preferred.png")
    seen["after"] = d.find_element(By.CSS_SELECTOR, ".mimm-primary-line").text
    seen["marks"] = d.execute_script(marks)
    d.get(f"{base}/admin/services/mimm/log")
    details = "return Array.from(document.querySelectorAll('tr.mimm-event[data-kind=switch] .mimm-detail')).map(t => t.textContent)"
    WebDriverWait(d, 60).until(lambda d: any("-> lte" in t for t in d.execute_script(details)))
    seen["log"] = d.execute_script(details)
    d.save_screenshot(shot + "-log.png")
    print(json.dumps(seen))
finally:
    d.quit()
"#;

#[test]
fn the_luci_app_shows_mimmd_and_steers_it() {
    let test = "the_luci_app_shows_mimmd_and_steers_it";
    if !root_or_skip(test)
        || !mimm_requires::tool(test, "chromium", "chromium")
        || !mimm_requires::tool(test, "chromedriver", "chromium-driver")
    {
        return;
    }
    let Some(work) = mimm_requires::openwrt_userspace(test) else {
        return;
    };
    let _serial = serial();
    let (bed, dir, socket, config) = common::lte_and_wifi("luci");
    let m = Mimmd::start(&bed, &config, &socket, &dir.0.join("log"));
    let inside = dir.file("inside.sh", &format!("set -eu\n{INSTALL_MIMM}{INSIDE}"));
    let browser = dir.file("browser.py", BROWSER);
    let out = dir.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut ns = vendor::namespace(&work, &dir, &inside, PORT, &config, &socket, &out)
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
    let ctl: Value = serde_json::from_slice(&m.ctl(&["--json", "status"]).stdout).unwrap();
    let shots = repo().join("target/luci-mimm");
    // Debian's python3, where python3-selenium is (not a pyenv on PATH).
    let seen = Command::new("/usr/bin/python3")
        .arg(&browser)
        .arg(PORT)
        .arg(&shots)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&up);
    let _ = ns.wait();
    assert!(
        seen.status.success(),
        "{}",
        String::from_utf8_lossy(&seen.stderr)
    );
    let seen: Value = serde_json::from_slice(&seen.stdout).unwrap();
    eprintln!("{seen}");

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
