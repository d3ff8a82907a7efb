//! The files the demo's daemons read: mimmd's and the VSD's `/etc/config/mimm`,
//! the advice server's and the anchor's mimm-server files, and the trace
//! mimmd plays, in a directory removed at the end.

use std::path::{Path, PathBuf};

use mimm_trace::Trace;

use super::{Variant, alarm};

fn config(dir: &Path, trace: &Path, ifaces: &[(String, String)], variant: Variant) -> String {
    let mut text = format!(
        "# written by mimm-testbed demo\nconfig globals\n\toption mode 'vsd'\n\toption socket '{}'\n\n",
        dir.join("mimmd.sock").display(),
    );
    let devices: Vec<&str> = ifaces.iter().map(|(_, d)| d.as_str()).collect();
    text.push_str(&variant.vsd_section(&devices, &dir.join("vsd0.sock")));
    for (name, dev) in ifaces {
        text.push_str(&format!(
            "\nconfig interface '{name}'\n\toption device '{dev}'\n\toption kind '5g'\n\
             \toption metric 'rate_kbps'\n\toption signal_source 'trace:{}'\n\
             \tlist probe '198.51.100.1'\n",
            trace.display()
        ));
    }
    text.push_str(&alarm::client_section());
    text
}

/// UCI names are `[A-Za-z0-9_]`; trace interface names may not be.
fn uci_name(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The files the daemons read, in a directory removed at the end.
pub struct Files {
    dir: PathBuf,
    /// The interfaces by their UCI names: (name, device).
    pub uci: Vec<(String, String)>,
    pub config: String,
    pub server_config: String,
    /// The anchor's file (anchored mode).
    pub anchor_config: Option<String>,
    _cleanup: RemoveDir,
}

impl Files {
    pub fn write(
        trace: &Trace,
        ifaces: &[(String, String)],
        expiry_s: u64,
        variant: Variant,
    ) -> Result<Files, String> {
        let dir = std::env::temp_dir().join(format!("mimm-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let cleanup = RemoveDir(dir.clone());
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok::<String, String>(path.display().to_string())
        };
        // mimmd plays the trace with the interface names as UCI wants them.
        let mut renamed = trace.clone();
        for row in &mut renamed.rows {
            row.iface = uci_name(&row.iface);
        }
        let trace_path = write("drive.csv", &renamed.to_csv())?;
        let uci: Vec<(String, String)> = ifaces
            .iter()
            .map(|(n, d)| (uci_name(n), d.clone()))
            .collect();
        let config = write("mimm", &config(&dir, Path::new(&trace_path), &uci, variant))?;
        let networks: Vec<String> = uci.iter().map(|(n, _)| n.clone()).collect();
        let server_config = write("mimm-server", &alarm::server_config(&networks, expiry_s))?;
        let anchor_config = match variant.anchor_config() {
            Some(text) => Some(write("mimm-anchor", &text)?),
            None => None,
        };
        Ok(Files {
            dir,
            uci,
            config,
            server_config,
            anchor_config,
            _cleanup: cleanup,
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
