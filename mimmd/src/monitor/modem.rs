//! Modem signal from the tools OpenWrt routers have, parsed from their real
//! output formats: `uqmi --get-signal-info` (QMI), `mmcli --signal-get -J`
//! (ModemManager) and the 3GPP TS 27.007 AT commands `+CESQ` and `+CSQ`.
//! The best measure available wins: RSRP (LTE/5G), else RSCP (UMTS), else
//! RSSI.

use serde_json::Value;

/// What a modem reports, reduced to what the MM uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModemSignal {
    pub signal_dbm: f64,
    /// `5g`, `lte`, `umts` or `gsm`: how the signal was measured.
    pub tech: &'static str,
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        // ModemManager prints numbers as strings, and "--" when unknown.
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

/// `uqmi -d /dev/cdc-wdm0 --get-signal-info`, e.g.
/// `{"type":"lte","rssi":-67,"rsrq":-10,"rsrp":-94,"snr":34}`. Some
/// versions print one object per radio (NR5G next to LTE); all are read.
pub fn parse_uqmi(output: &str) -> Result<ModemSignal, String> {
    let mut best: Option<ModemSignal> = None;
    let mut consider = |o: &Value| {
        let kind = o.get("type").and_then(Value::as_str).unwrap_or("");
        let found = match kind {
            "5gnr" | "nr5g" | "5g" => number(&o["rsrp"]).map(|s| (s, "5g")),
            "lte" => number(&o["rsrp"]).map(|s| (s, "lte")),
            "wcdma" | "umts" | "tdscdma" => number(&o["rscp"])
                .or(number(&o["rssi"]))
                .map(|s| (s, "umts")),
            "gsm" => number(&o["rssi"]).map(|s| (s, "gsm")),
            _ => None,
        };
        if let Some((signal_dbm, tech)) = found {
            // 5G and LTE RSRP beat UMTS RSCP, which beats GSM RSSI.
            let rank = |t: &str| ["gsm", "umts", "lte", "5g"].iter().position(|x| *x == t);
            if best.is_none_or(|b| rank(tech) > rank(b.tech)) {
                best = Some(ModemSignal { signal_dbm, tech });
            }
        }
    };
    let text = output.trim();
    let mut parsed_any = false;
    for value in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        let value = value.map_err(|e| format!("uqmi output is not JSON: {e}"))?;
        parsed_any = true;
        match &value {
            Value::Array(items) => items.iter().for_each(&mut consider),
            other => consider(other),
        }
    }
    if !parsed_any {
        return Err("uqmi printed nothing".into());
    }
    best.ok_or_else(|| format!("no signal in uqmi output {text:?}"))
}

/// `mmcli -m 0 --signal-get -J` (after `--signal-setup=N` turned sampling on).
pub fn parse_mmcli(output: &str) -> Result<ModemSignal, String> {
    let v: Value =
        serde_json::from_str(output).map_err(|e| format!("mmcli output is not JSON: {e}"))?;
    let signal = &v["modem"]["signal"];
    if signal.is_null() {
        return Err("mmcli output has no modem.signal".into());
    }
    let candidates = [
        ("5g", "rsrp"),
        ("lte", "rsrp"),
        ("umts", "rscp"),
        ("umts", "rssi"),
        ("gsm", "rssi"),
    ];
    candidates
        .iter()
        .find_map(|(tech, field)| {
            number(&signal[*tech][*field]).map(|signal_dbm| ModemSignal {
                signal_dbm,
                tech: if *tech == "umts" { "umts" } else { tech },
            })
        })
        .ok_or_else(|| "mmcli reports no signal (is --signal-setup enabled?)".into())
}

/// The values of an AT response line `+NAME: a,b,c`.
fn at_values<'a>(response: &'a str, name: &str) -> Option<Vec<&'a str>> {
    let line = response.lines().find_map(|l| l.trim().strip_prefix(name))?;
    Some(
        line.trim_start_matches(':')
            .split(',')
            .map(str::trim)
            .collect(),
    )
}

/// `AT+CESQ` (27.007 8.69): `+CESQ: rxlev,ber,rscp,ecno,rsrq,rsrp`.
/// RSRP 0..97 is -141..-44 dBm, RSCP 0..96 is -121..-25 dBm, RXLEV 0..63 is
/// -111..-48 dBm; 255 (99 for RXLEV) is unknown.
pub fn parse_cesq(response: &str) -> Result<ModemSignal, String> {
    let v = at_values(response, "+CESQ").ok_or("no +CESQ line")?;
    let get = |i: usize| v.get(i).and_then(|s| s.parse::<i32>().ok());
    if let Some(rsrp) = get(5).filter(|r| (0..=97).contains(r)) {
        return Ok(ModemSignal {
            signal_dbm: f64::from(rsrp - 141),
            tech: "lte",
        });
    }
    if let Some(rscp) = get(2).filter(|r| (0..=96).contains(r)) {
        return Ok(ModemSignal {
            signal_dbm: f64::from(rscp - 121),
            tech: "umts",
        });
    }
    if let Some(rxlev) = get(0).filter(|r| (0..=63).contains(r)) {
        return Ok(ModemSignal {
            signal_dbm: f64::from(rxlev - 111),
            tech: "gsm",
        });
    }
    Err(format!("+CESQ reports no signal: {}", v.join(",")))
}

/// `AT+CSQ` (27.007 8.5): `+CSQ: rssi,ber`, RSSI 0..31 is -113..-51 dBm, 99 unknown.
pub fn parse_csq(response: &str) -> Result<ModemSignal, String> {
    let v = at_values(response, "+CSQ").ok_or("no +CSQ line")?;
    match v.first().and_then(|s| s.parse::<i32>().ok()) {
        Some(rssi) if (0..=31).contains(&rssi) => Ok(ModemSignal {
            signal_dbm: f64::from(-113 + 2 * rssi),
            tech: "gsm",
        }),
        _ => Err(format!("+CSQ reports no signal: {}", v.join(","))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uqmi_outputs() {
        let lte =
            parse_uqmi("{\"type\":\"lte\",\"rssi\":-67,\"rsrq\":-10,\"rsrp\":-94,\"snr\":34}\n")
                .unwrap();
        assert_eq!(
            lte,
            ModemSignal {
                signal_dbm: -94.0,
                tech: "lte"
            }
        );
        let umts = parse_uqmi("{\"type\":\"wcdma\",\"rssi\":-75,\"ecio\":-7}").unwrap();
        assert_eq!(umts.signal_dbm, -75.0);
        // Two radios at once (5G NSA): NR wins.
        let both = parse_uqmi(
            "{\"type\":\"lte\",\"rsrp\":-100}\n{\"type\":\"5gnr\",\"rsrp\":-90,\"snr\":12}\n",
        )
        .unwrap();
        assert_eq!(
            both,
            ModemSignal {
                signal_dbm: -90.0,
                tech: "5g"
            }
        );
        assert!(parse_uqmi("").is_err());
        assert!(
            parse_uqmi("\"Not supported\"")
                .unwrap_err()
                .contains("no signal")
        );
        assert!(parse_uqmi("{\"type\":\"lte\"").is_err());
    }

    #[test]
    fn mmcli_output() {
        let text = r#"{"modem":{"signal":{"5g":{"error-rate":"--","rsrp":"--","rsrq":"--","snr":"--"},"cdma1x":{"ecio":"--","error-rate":"--","rssi":"--"},"evdo":{"ecio":"--","error-rate":"--","io":"--","rssi":"--","sinr":"--"},"gsm":{"error-rate":"--","rssi":"--"},"lte":{"error-rate":"--","rsrp":"-96.00","rsrq":"-11.00","rssi":"-65.00","snr":"10.00"},"refresh":{"rate":"5"},"threshold":{"error-rate":"no","rssi":"0"},"umts":{"ecio":"--","error-rate":"--","rscp":"--","rssi":"--"}}}}"#;
        assert_eq!(
            parse_mmcli(text).unwrap(),
            ModemSignal {
                signal_dbm: -96.0,
                tech: "lte"
            }
        );
        let off = r#"{"modem":{"signal":{"lte":{"rsrp":"--"},"refresh":{"rate":"0"}}}}"#;
        assert!(parse_mmcli(off).unwrap_err().contains("signal-setup"));
        assert!(parse_mmcli("error: no modems").is_err());
    }

    #[test]
    fn at_responses() {
        assert_eq!(
            parse_cesq("\r\n+CESQ: 99,99,255,255,20,45\r\n\r\nOK\r\n").unwrap(),
            ModemSignal {
                signal_dbm: -96.0,
                tech: "lte"
            }
        );
        assert_eq!(
            parse_cesq("+CESQ: 99,99,40,30,255,255\r\nOK")
                .unwrap()
                .signal_dbm,
            -81.0
        );
        assert_eq!(
            parse_cesq("+CESQ: 40,0,255,255,255,255\r\nOK")
                .unwrap()
                .signal_dbm,
            -71.0
        );
        assert!(parse_cesq("+CESQ: 99,99,255,255,255,255\r\nOK").is_err());
        assert!(parse_cesq("ERROR").is_err());
        assert_eq!(parse_csq("+CSQ: 17,99\r\nOK").unwrap().signal_dbm, -79.0);
        assert!(parse_csq("+CSQ: 99,99\r\nOK").is_err());
    }
}
