//! The demo's MIMM server: mimm-server in the `inet` namespace with mimmd
//! as its client. Midway, an SNMP linkDown trap (net-snmp's `snmptrap`)
//! for the active modem's network makes the server tell mimmd to avoid
//! that network for a while: mimmd moves the VSD off it at once.

use std::process::Command;

use mimm_testbed::Testbed;

/// "mimm-demo-key-01": the key mimmd and the server share here.
const KEY_HEX: &str = "6d696d6d2d64656d6f2d6b65792d3031";
const TRAP_PORT: u16 = 1162;
const LINK_DOWN: &str = "1.3.6.1.6.3.1.1.5.3";
const IF_INDEX: &str = "1.3.6.1.2.1.2.2.1.1";

/// mimm-server's file: the router as client, and one alarm per modem,
/// told apart by the trap's ifIndex (k + 1 for modem k).
pub fn server_config(networks: &[String], expiry_s: u64) -> String {
    let mut text = format!(
        "config server 'server'\n\toption snmp_port '{TRAP_PORT}'\n\tlist community 'mimm-demo'\n\
         config client 'router'\n\toption spi '1000'\n\toption key '{KEY_HEX}'\n"
    );
    for (k, network) in networks.iter().enumerate() {
        text += &format!(
            "config alarm 'modem{k}_down'\n\toption trap_oid '{LINK_DOWN}'\n\
             \toption match_oid '{IF_INDEX}.{index}'\n\toption match_value '{index}'\n\
             \toption network '{network}'\n\toption reason 'cell of {network} down'\n\
             \toption expiry_s '{expiry_s}'\n",
            index = k + 1
        );
    }
    text
}

/// mimmd's `config server` section.
pub fn client_section() -> String {
    format!(
        "\nconfig server\n\toption address '198.51.100.1'\n\toption spi '1000'\n\
         \toption key '{KEY_HEX}'\n\toption report_s '5'\n"
    )
}

pub fn have_snmptrap() -> bool {
    Command::new("snmptrap").arg("-V").output().is_ok()
}

/// The linkDown trap for modem `k`, sent from the `inet` namespace.
pub fn trap(bed: &Testbed, k: usize) -> Result<(), String> {
    let to = format!("127.0.0.1:{TRAP_PORT}");
    let index = (k + 1).to_string();
    let varbind = format!("{IF_INDEX}.{index}");
    let args = [
        "snmptrap",
        "-v",
        "2c",
        "-c",
        "mimm-demo",
        &to,
        "",
        LINK_DOWN,
        &varbind,
        "i",
        &index,
    ];
    let out = bed.exec("inet", &args).map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "snmptrap: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
