//! UCI files (mimm-uci) and the configurations read from them (mimmd's
//! `/etc/config/mimm` with its VSD sections, mimm-server's
//! `/etc/config/mimm-server`): any text parses or fails with an error,
//! never a panic; a bad value is an error too. A parsed package written
//! back (`uci export`'s form) reads as the same package.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mimm_uci::{Package, Value};

/// A section's type, name and options, without positions.
type Contents = (String, Option<String>, Vec<(String, Value)>);

/// A package without the positions (which change when it is written back).
fn contents(p: &Package) -> Vec<Contents> {
    p.sections
        .iter()
        .map(|s| {
            let options = s
                .options
                .iter()
                .map(|o| (o.name.clone(), o.value.clone()))
                .collect();
            (s.kind.clone(), s.name.clone(), options)
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(package) = Package::parse(&text, "mimm") else {
        return;
    };
    let _ = package.show();
    if package.round_trips() {
        for header in [false, true] {
            let written = package.to_text(header);
            let again = Package::parse(&written, "mimm")
                .unwrap_or_else(|e| panic!("written back, it does not parse: {e}\n{written}"));
            assert_eq!(again.name, package.name);
            assert_eq!(contents(&again), contents(&package), "written:\n{written}");
        }
    }
    let file = Path::new("/etc/config/mimm");
    if let Err(e) = mimm_mimmd::config::from_package(&package, file) {
        let _ = e.to_string();
    }
    if let Err(e) = mimm_vsd::config::from_package(&package, file) {
        let _ = e.to_string();
    }
    if let Err(e) =
        mimm_server::config::from_package(&package, Path::new("/etc/config/mimm-server"))
    {
        let _ = e.to_string();
    }
});
