//! The rpcd side of mimmctl (`mimmctl rpc list|call METHOD`): what
//! `/usr/libexec/rpcd/mimm` hands to rpcd, so `ubus call mimm status` and
//! LuCI see mimmd. rpcd passes a call's arguments as a JSON object on stdin
//! and wants one JSON object back.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::config::store;
use crate::control::client;
use crate::control::proto::{Event, Reply, Request};

/// The methods and their argument types, as rpcd's `list` wants them.
pub fn list() -> Value {
    json!({
        "status": {},
        "interfaces": {},
        "history": {},
        "recent": {},
        "prefer": { "interface": "str" },
        "handoff": { "interface": "str" },
        "check": {},
        "reload": {},
    })
}

/// Runs one method; a failure is an `{"error": ...}` object so the caller
/// (LuCI) can show why.
pub fn call(socket: &Path, method: &str, args: &str, timeout: Duration) -> Value {
    match run(socket, method, args, timeout) {
        Ok(v) => v,
        Err(e) => json!({ "error": e }),
    }
}

fn arguments(method: &str, args: &str) -> Result<Value, String> {
    if args.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(args).map_err(|e| format!("{method}: arguments: {e}"))
}

fn interface_arg(method: &str, args: &str) -> Result<String, String> {
    match arguments(method, args)?.get("interface") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(format!("{method}: needs {{\"interface\": \"NAME\"}}")),
    }
}

fn json_of<T: serde::Serialize + ?Sized>(v: &T) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|e| e.to_string())
}

fn run(socket: &Path, method: &str, args: &str, timeout: Duration) -> Result<Value, String> {
    let ask = |request: Request| client::call(socket, &request, timeout).map_err(|e| e.to_string());
    match method {
        "status" => match ask(Request::Status)? {
            Reply::Status(s) => json_of(&*s),
            _ => Err("mimmd answered status with something else".into()),
        },
        "interfaces" => match ask(Request::Status)? {
            Reply::Status(s) => Ok(json!({ "interfaces": json_of(&s.interfaces)? })),
            _ => Err("mimmd answered status with something else".into()),
        },
        "recent" => match ask(Request::Recent)? {
            Reply::Recent(r) => json_of(&*r),
            _ => Err("mimmd answered recent with something else".into()),
        },
        "history" => {
            let mut events: Vec<Event> = Vec::new();
            let mut bad = None;
            client::events(socket, false, false, |line| {
                match serde_json::from_str(line) {
                    Ok(e) => events.push(e),
                    Err(e) => bad = Some(format!("history: unreadable event: {e}")),
                }
                bad.is_none()
            })
            .map_err(|e| e.to_string())?;
            match bad {
                Some(e) => Err(e),
                None => Ok(json!({ "events": json_of(&events)? })),
            }
        }
        "prefer" => {
            let iface = interface_arg(method, args)?;
            let iface = (iface != "none").then_some(iface);
            ask(Request::Prefer { iface }).map(|_| json!({ "ok": "done" }))
        }
        "handoff" => {
            let iface = interface_arg(method, args)?;
            ask(Request::Handoff { iface }).map(|_| json!({ "ok": "done" }))
        }
        // LuCI's Save & Apply: the changes staged in the caller's session
        // (uhttpd adds `ubus_rpc_session` to every call) checked first...
        "check" => {
            let args = arguments(method, args)?;
            let sid = args.get("ubus_rpc_session").and_then(Value::as_str);
            store::check_staged("mimm", sid).map(|()| json!({ "ok": "valid" }))
        }
        // ...and once applied, mimmd told.
        "reload" => ask(Request::Reload).map(|_| json!({ "ok": "done" })),
        other => Err(format!(
            "no method {other:?} (methods: status, interfaces, history, recent, prefer, \
             handoff, check, reload)"
        )),
    }
}
