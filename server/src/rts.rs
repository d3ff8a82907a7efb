//! The RTS feed: how much real-time traffic each network carries besides
//! mimm's clients (calls a SIP server or a PCRF knows of). JSON lines, each
//! datagram on the unix socket `rts_socket` holding one or more:
//!
//! ```text
//! {"network": "26201", "kbps": 6400, "sessions": 100}
//! ```
//!
//! `kbps` replaces the network's previous figure; `sessions` is for the log.
//! A line that does not parse is reported with its number and skipped.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtsUpdate {
    pub network: String,
    pub kbps: u32,
    #[serde(default)]
    pub sessions: Option<u32>,
}

/// Every non-empty line of a datagram, parsed.
pub fn parse(text: &str) -> Vec<Result<RtsUpdate, String>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("RTS line {}: {e}", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_errors_name_the_line() {
        let all = parse(
            "{\"network\":\"B\",\"kbps\":700}\n\n{\"network\":\"A\",\"kbps\":1,\"sessions\":2}\n{\"net\":\"A\"}\n",
        );
        assert_eq!(all.len(), 3);
        assert_eq!(
            all[0],
            Ok(RtsUpdate {
                network: "B".into(),
                kbps: 700,
                sessions: None
            })
        );
        assert_eq!(all[1].as_ref().unwrap().sessions, Some(2));
        assert!(
            all[2]
                .as_ref()
                .unwrap_err()
                .starts_with("RTS line 4: unknown field `net`")
        );
    }
}
