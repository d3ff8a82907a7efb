//! The VSD's control socket (unix, root-only, one JSON request per
//! connection, at most [`MAX_REQUEST`] bytes, one answer line):
//!
//! ```text
//! {"cmd":"status"}                                  -> {"ok":{"status":{...}}}
//! {"cmd":"add","member":"eth2","priority":50}       -> {"ok":"done"}
//! {"cmd":"remove","member":"eth2"}                  -> {"ok":"done"}
//! {"cmd":"priority","member":"eth2","priority":90}  -> {"ok":"done"}
//! {"cmd":"prepare","member":"eth2"}                 -> {"ok":"done"}   accept its frames too
//! {"cmd":"commit"}                                  -> {"ok":"done"}   move transmission to it
//! {"cmd":"set-active","member":"eth2"}              -> {"ok":"done"}   prepare + commit
//! {"cmd":"backups","members":["eth2","eth1"]}       -> {"ok":"done"}   where a carrier loss goes, best first
//! {"cmd":"duplicate","member":"wlan0"}              -> {"ok":"done"}   anchored: also over it
//! {"cmd":"duplicate"}                               -> {"ok":"done"}   anchored: duplication off
//! {"cmd":"events","follow":true}                    -> recent events, then each new one
//! ```
//!
//! Errors are `{"error":"..."}` naming the member. mimmd's vsd mode speaks
//! this; `vsd ctl` is the command-line client.

use std::io;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub const MAX_REQUEST: usize = 4096;

/// Read through [`FlatRequest`] (see there why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case", try_from = "FlatRequest")]
pub enum Request {
    Status,
    Add {
        member: String,
        priority: Option<i32>,
    },
    Remove {
        member: String,
    },
    Priority {
        member: String,
        priority: i32,
    },
    Prepare {
        member: String,
    },
    Commit,
    SetActive {
        member: String,
    },
    /// Where the VSD moves by itself when the active member fails, best
    /// first (mimmd's ranking; members left out rank after by priority).
    Backups {
        members: Vec<String>,
    },
    /// Anchored mode: send every packet over `member` too (`None`: stop).
    Duplicate {
        member: Option<String>,
    },
    Events {
        follow: bool,
        /// Send the recent events first (the default); mimmd, which asks
        /// for the active member once it follows, does without.
        recent: bool,
    },
}

/// Every field any request has: serde's reader for an internally tagged
/// enum buffers the whole object first and cost the VSD 13.7 KiB; a plain
/// struct and one match cost a third of it. Fields a command does not
/// take are ignored, as before.
#[derive(Deserialize)]
struct FlatRequest {
    cmd: String,
    member: Option<String>,
    members: Option<Vec<String>>,
    priority: Option<i32>,
    follow: Option<bool>,
    recent: Option<bool>,
}

impl Request {
    /// Reads a request line as the daemons do: through serde_json's
    /// `Value`, whose parser the binary has anyway (`vsd ctl`); the derived
    /// reader costs the router's binary 7 KiB more on mips. Same requests,
    /// same errors for missing or mistyped fields.
    pub fn from_line(line: &[u8]) -> Result<Request, String> {
        // From a str, as `vsd ctl` reads its answers: one instantiation of
        // the parser, not two (4 KiB on mips).
        let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8: {e}"))?;
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if !v.is_object() {
            return Err("a request is a JSON object with a cmd".into());
        }
        let text = |k: &str| match v.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{k} must be a string")),
        };
        let flag = |k: &str| match v.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(b) => b
                .as_bool()
                .map(Some)
                .ok_or(format!("{k} must be true or false")),
        };
        let priority = match v.get("priority") {
            None | Some(serde_json::Value::Null) => None,
            Some(p) => Some(
                p.as_i64()
                    .and_then(|p| i32::try_from(p).ok())
                    .ok_or("priority must be a whole number")?,
            ),
        };
        let members = match v.get("members") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Array(a)) => Some(
                a.iter()
                    .map(|m| m.as_str().map(str::to_string))
                    .collect::<Option<Vec<String>>>()
                    .ok_or("members must be a list of names")?,
            ),
            Some(_) => return Err("members must be a list of names".into()),
        };
        Request::try_from(FlatRequest {
            cmd: text("cmd")?.ok_or("missing field `cmd`")?,
            member: text("member")?,
            members,
            priority,
            follow: flag("follow")?,
            recent: flag("recent")?,
        })
    }
}

impl TryFrom<FlatRequest> for Request {
    type Error = String;

    fn try_from(flat: FlatRequest) -> Result<Request, String> {
        let cmd = flat.cmd;
        let member = || flat.member.clone().ok_or(format!("{cmd} needs a member"));
        Ok(match cmd.as_str() {
            "status" => Request::Status,
            "add" => Request::Add {
                member: member()?,
                priority: flat.priority,
            },
            "remove" => Request::Remove { member: member()? },
            "priority" => Request::Priority {
                member: member()?,
                priority: flat.priority.ok_or("priority needs a priority")?,
            },
            "prepare" => Request::Prepare { member: member()? },
            "commit" => Request::Commit,
            "set-active" => Request::SetActive { member: member()? },
            "backups" => Request::Backups {
                members: flat.members.clone().ok_or("backups needs members")?,
            },
            "duplicate" => Request::Duplicate {
                member: flat.member.clone(),
            },
            "events" => Request::Events {
                follow: flat.follow.unwrap_or(false),
                recent: flat.recent.unwrap_or(true),
            },
            other => {
                return Err(format!(
                    "unknown cmd {other:?}: status, add, remove, priority, prepare, commit, set-active, backups, duplicate or events"
                ));
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Response {
    Ok(Reply),
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    Done,
    Status(Box<Status>),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Received but not passed up: not accepted now, for another host, or
    /// larger than a buffer.
    pub rx_dropped: u64,
    /// Not sent: the socket was full or there was no active member.
    pub tx_dropped: u64,
}

impl Counters {
    /// Both counts together (the loop's and the kernel path's).
    pub fn plus(&self, other: &Counters) -> Counters {
        Counters {
            rx_packets: self.rx_packets + other.rx_packets,
            rx_bytes: self.rx_bytes + other.rx_bytes,
            tx_packets: self.tx_packets + other.tx_packets,
            tx_bytes: self.tx_bytes + other.tx_bytes,
            rx_dropped: self.rx_dropped + other.rx_dropped,
            tx_dropped: self.tx_dropped + other.tx_dropped,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberStatus {
    pub name: String,
    pub ifindex: u32,
    pub mac: String,
    pub carrier: bool,
    pub priority: i32,
    /// active, prepared, leaving, backup or down.
    pub state: String,
    pub counters: Counters,
    /// In anchored mode: the member's path to the anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<crate::anchored::paths::PathStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub name: String,
    pub mac: String,
    pub mtu: u32,
    pub mac_policy: String,
    /// The TAP took checksum and segmentation offloads.
    pub offloads: bool,
    /// The kernel forwards the members' frames (`crate::kernel_path`).
    #[serde(default)]
    pub kernel_path: bool,
    pub active: Option<String>,
    pub prepared: Option<String>,
    pub switches: u64,
    pub uptime_s: f64,
    pub members: Vec<MemberStatus>,
    /// Configured members whose device does not exist (yet).
    pub waiting: Vec<String>,
    /// Where a carrier loss goes, as the control plane ranked the
    /// members (empty: by priority).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backups: Vec<String>,
    /// In anchored mode: the binding with the anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchored: Option<AnchoredStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnchoredStatus {
    pub anchor: String,
    pub home: Option<std::net::Ipv4Addr>,
    /// Packets from the TUN that no path could carry.
    pub no_path_drops: u64,
    /// Selective duplication: the second path, uplink packets sent twice,
    /// downlink second copies dropped.
    #[serde(default)]
    pub duplicating_to: Option<String>,
    #[serde(default)]
    pub sent_twice: u64,
    #[serde(default)]
    pub second_copies: u64,
}

/// What a VSD event is about, serialised as the name `events` streams.
/// README's list is checked against [`EventKind::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Switch,
    Prepare,
    Carrier,
    AllDown,
    Member,
    Reload,
    Error,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        EventKind::Switch,
        EventKind::Prepare,
        EventKind::Carrier,
        EventKind::AllDown,
        EventKind::Member,
        EventKind::Reload,
        EventKind::Error,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::Switch => "switch",
            EventKind::Prepare => "prepare",
            EventKind::Carrier => "carrier",
            EventKind::AllDown => "all-down",
            EventKind::Member => "member",
            EventKind::Reload => "reload",
            EventKind::Error => "error",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Something the VSD did or saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub t_s: f64,
    pub kind: EventKind,
    pub member: Option<String>,
    pub detail: String,
}

/// One request to the VSD at `socket`, one answer.
pub fn call(socket: &Path, request: &Request) -> io::Result<Reply> {
    let line = serde_json::to_vec(request)?;
    let answer = mimm_io::client::request(socket, "the VSD", &line, Duration::from_secs(5))?;
    match serde_json::from_str(&answer)? {
        Response::Ok(reply) => Ok(reply),
        Response::Error(e) => Err(io::Error::other(e)),
    }
}

/// A request's answer as JSON as it is (`{"status":{...}}` or `"done"`),
/// and the line it came in; an `{"error":...}` is the error.
pub fn call_value(socket: &Path, request: &Request) -> io::Result<(serde_json::Value, String)> {
    let line = serde_json::to_vec(request)?;
    let answer = mimm_io::client::request(socket, "the VSD", &line, Duration::from_secs(5))?;
    match serde_json::from_str(&answer)? {
        Answer::Ok(reply) => Ok((reply, answer)),
        Answer::Error(e) => Err(io::Error::other(e)),
    }
}

/// An answer read for one part only: `T` takes what the client needs and
/// skips the rest, so a client that never looks at the whole status does
/// not carry its parser (mimmd: 10 KiB).
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Answer<T> {
    Ok(T),
    Error(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum ActiveReply {
    Status(Active),
}

#[derive(Deserialize)]
struct Active {
    active: Option<String>,
}

fn call_for<T: serde::de::DeserializeOwned>(socket: &Path, request: &Request) -> io::Result<T> {
    let line = serde_json::to_vec(request)?;
    let answer = mimm_io::client::request(socket, "the VSD", &line, Duration::from_secs(5))?;
    match serde_json::from_str(&answer)? {
        Answer::Ok(reply) => Ok(reply),
        Answer::Error(e) => Err(io::Error::other(e)),
    }
}

/// Sends a command and waits for it to be done (or refused).
pub fn command(socket: &Path, request: &Request) -> io::Result<()> {
    call_for::<serde::de::IgnoredAny>(socket, request).map(|_| ())
}

/// The member the VSD has active now.
pub fn active_member(socket: &Path) -> io::Result<Option<String>> {
    let ActiveReply::Status(status) = call_for(socket, &Request::Status)?;
    Ok(status.active)
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum PathsReply {
    Status(PathsOfStatus),
}

#[derive(Deserialize)]
struct PathsOfStatus {
    anchored: Option<HomeOfStatus>,
    members: Vec<MemberPath>,
}

#[derive(Deserialize)]
struct HomeOfStatus {
    home: Option<std::net::Ipv4Addr>,
}

/// What mimmd reads of an anchored member's path (a part of its status:
/// reading all of it would cost mimmd's binary the whole status parser).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MemberPath {
    pub name: String,
    /// active, prepared, leaving, backup or down (no carrier, no binding,
    /// or keepalives unanswered).
    pub state: String,
    pub path: Option<PathOfStatus>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PathOfStatus {
    pub care_of: Option<std::net::Ipv4Addr>,
    pub bound: bool,
    pub binding_left_s: Option<u64>,
    pub srtt_ms: Option<f64>,
    pub loss_pct: f64,
}

/// An anchored VSD's home address and each member's path; `None` from a
/// VSD in the shadow-MAC mode.
pub fn anchored_paths(
    socket: &Path,
) -> io::Result<Option<(Option<std::net::Ipv4Addr>, Vec<MemberPath>)>> {
    let PathsReply::Status(status) = call_for(socket, &Request::Status)?;
    Ok(status.anchored.map(|a| (a.home, status.members)))
}

/// The VSD's events as JSON lines, to `each` until it returns false.
pub fn events(socket: &Path, follow: bool, each: impl FnMut(&str) -> bool) -> io::Result<()> {
    let line = serde_json::to_vec(&Request::Events {
        follow,
        recent: true,
    })?;
    mimm_io::client::stream(socket, "the VSD", &line, each)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_documented() {
        let r: Request = serde_json::from_str(r#"{"cmd":"set-active","member":"eth2"}"#).unwrap();
        assert_eq!(
            r,
            Request::SetActive {
                member: "eth2".into()
            }
        );
        let line = br#"{"cmd":"backups","members":["eth2","eth1"]}"#;
        let backups = Request::Backups {
            members: vec!["eth2".into(), "eth1".into()],
        };
        assert_eq!(Request::from_line(line), Ok(backups.clone()));
        assert_eq!(serde_json::from_slice::<Request>(line).unwrap(), backups);
        assert_eq!(
            Request::from_line(br#"{"cmd":"backups","members":["eth2",3]}"#),
            Err("members must be a list of names".into())
        );
        assert_eq!(
            Request::from_line(br#"{"cmd":"backups"}"#),
            Err("backups needs members".into())
        );
        let r: Request = serde_json::from_str(r#"{"cmd":"add","member":"eth2"}"#).unwrap();
        assert_eq!(
            r,
            Request::Add {
                member: "eth2".into(),
                priority: None
            }
        );
        assert_eq!(
            serde_json::to_string(&Response::Ok(Reply::Done)).unwrap(),
            r#"{"ok":"done"}"#
        );
        let refused = |text: &str| {
            serde_json::from_str::<Request>(text)
                .unwrap_err()
                .to_string()
        };
        assert!(
            refused(r#"{"cmd":"explode"}"#).starts_with("unknown cmd \"explode\": status, add")
        );
        assert!(refused(r#"{"cmd":"remove"}"#).starts_with("remove needs a member"));
        assert!(
            refused(r#"{"cmd":"priority","member":"eth2"}"#)
                .starts_with("priority needs a priority")
        );
        assert!(refused(r#"{"member":"eth2"}"#).contains("missing field `cmd`"));
        assert!(refused(r#"{"cmd":"add","member":7}"#).contains("invalid type"));
        let r: Request = serde_json::from_str(r#"{"cmd":"events"}"#).unwrap();
        assert_eq!(
            r,
            Request::Events {
                follow: false,
                recent: true
            }
        );
        // What is sent is what is read.
        for r in [
            Request::Commit,
            Request::Priority {
                member: "a".into(),
                priority: -3,
            },
        ] {
            let text = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        }
    }
}

#[cfg(test)]
mod event_kind_tests {
    use super::EventKind;

    #[test]
    fn kinds_serialise_as_their_names_and_readme_lists_them_all() {
        mimm_requires::names_are_listed(&EventKind::ALL, |k| k.name(), "Event kinds (VSD):");
    }
}

#[cfg(test)]
mod paths_tests {
    use super::*;
    use crate::anchored::paths::PathStatus;

    #[test]
    fn mimmd_reads_the_paths_of_an_anchored_status_and_nothing_of_a_shadow_one() {
        let member = |name: &str, state: &str, path: Option<PathStatus>| MemberStatus {
            name: name.into(),
            ifindex: 3,
            mac: String::new(),
            carrier: true,
            priority: 1000,
            state: state.into(),
            counters: Counters::default(),
            path,
        };
        let path = PathStatus {
            care_of: Some("10.1.0.2".parse().unwrap()),
            bound: true,
            binding_left_s: Some(590),
            srtt_ms: Some(10.5),
            loss_pct: 6.25,
            ..PathStatus::default()
        };
        let mut status = Status {
            name: "vsd0".into(),
            mac: String::new(),
            mtu: 1420,
            mac_policy: "anchored".into(),
            offloads: false,
            kernel_path: false,
            active: Some("wwan0".into()),
            prepared: None,
            switches: 1,
            uptime_s: 3.0,
            members: vec![
                member("wwan0", "active", Some(path)),
                member("wlan0", "down", None),
            ],
            waiting: vec![],
            backups: vec![],
            anchored: Some(AnchoredStatus {
                anchor: "203.0.113.1:434".into(),
                home: Some("10.64.0.2".parse().unwrap()),
                no_path_drops: 0,
                duplicating_to: None,
                sent_twice: 0,
                second_copies: 0,
            }),
        };
        let line = |s: &Status| {
            serde_json::to_string(&Response::Ok(Reply::Status(Box::new(s.clone())))).unwrap()
        };
        let Answer::Ok(PathsReply::Status(read)) =
            serde_json::from_str::<Answer<PathsReply>>(&line(&status)).unwrap()
        else {
            panic!("not ok")
        };
        assert_eq!(
            read.anchored.unwrap().home,
            Some("10.64.0.2".parse().unwrap())
        );
        let p = read.members[0].path.as_ref().unwrap();
        assert_eq!(
            (p.bound, p.binding_left_s, p.srtt_ms, p.loss_pct),
            (true, Some(590), Some(10.5), 6.25)
        );
        assert_eq!(read.members[1].state, "down");
        status.anchored = None;
        let Answer::Ok(PathsReply::Status(read)) =
            serde_json::from_str::<Answer<PathsReply>>(&line(&status)).unwrap()
        else {
            panic!("not ok")
        };
        assert!(read.anchored.is_none());
    }
}

#[cfg(test)]
mod line_tests {
    use super::*;

    #[test]
    fn a_request_line_reads_as_serde_reads_it_and_bad_ones_say_why() {
        for line in [
            r#"{"cmd":"status"}"#,
            r#"{"cmd":"add","member":"eth2","priority":50}"#,
            r#"{"cmd":"events","follow":true,"recent":false}"#,
            r#"{"cmd":"duplicate"}"#,
            r#"{"cmd":"duplicate","member":"wlan0","extra":1}"#,
        ] {
            let by_serde: Request = serde_json::from_str(line).unwrap();
            assert_eq!(Request::from_line(line.as_bytes()), Ok(by_serde), "{line}");
        }
        for (line, why) in [
            ("garbage", "expected value"),
            ("[1]", "a JSON object"),
            (r#"{"member":"eth2"}"#, "missing field `cmd`"),
            (r#"{"cmd":"prepare"}"#, "prepare needs a member"),
            (r#"{"cmd":"add","member":3}"#, "member must be a string"),
            (
                r#"{"cmd":"priority","member":"a","priority":1e12}"#,
                "whole number",
            ),
            (
                r#"{"cmd":"events","follow":"yes"}"#,
                "follow must be true or false",
            ),
            (r#"{"cmd":"reboot"}"#, "unknown cmd \"reboot\""),
        ] {
            let got = Request::from_line(line.as_bytes()).unwrap_err();
            assert!(got.contains(why), "{line}: {got}");
        }
    }
}
