//! Modem signal sources against real kernel parts: an AT port on a
//! pseudo-terminal (the test plays the modem), a tool run as a child.

use std::os::fd::AsFd;
use std::time::Duration;

use mimm_io::clock;
use mimm_mimmd::monitor::at::AtSource;
use mimm_mimmd::monitor::command::CommandSource;
use mimm_mimmd::monitor::modem::parse_uqmi;
use mimm_mimmd::monitor::source::{Ask, Reading, Source, Update};
use rustix::event::{PollFd, PollFlags};

fn wait_readable(fd: impl AsFd) {
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let timeout = rustix::time::Timespec {
        tv_sec: 5,
        tv_nsec: 0,
    };
    rustix::event::poll(&mut fds, Some(&timeout)).unwrap();
}

/// Reads what mimmd wrote to the modem, up to the carriage return.
fn read_command(master: &std::os::fd::OwnedFd) -> String {
    let mut got = Vec::new();
    while !got.ends_with(b"\r") {
        wait_readable(master);
        let mut b = [0u8; 64];
        let n = rustix::io::read(master, &mut b).unwrap();
        got.extend_from_slice(&b[..n]);
    }
    String::from_utf8(got).unwrap()
}

/// Plays the modem's answer and returns what the source made of it.
fn answer(source: &mut AtSource, master: &std::os::fd::OwnedFd, text: &str) -> Option<Update> {
    rustix::io::write(master, text.as_bytes()).unwrap();
    for _ in 0..100 {
        if let Some(r) = source.on_readable(clock::now()) {
            return Some(r);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// A sample period came (the link is not what these sources read).
fn sample(source: &mut dyn Source) -> Option<Update> {
    let now = clock::now();
    source.sample(&Ask {
        now,
        ms: 0,
        link: None,
    })
}

fn signal(dbm: f64) -> Option<Update> {
    Some(Update::Signal(Reading {
        signal_dbm: Some(dbm),
        rate_kbps: None,
    }))
}

fn failure(update: Option<Update>) -> String {
    match update {
        Some(Update::Failed(e)) => e,
        other => panic!("not a failure: {other:?}"),
    }
}

#[test]
fn at_port_on_a_pty_cesq_then_csq_fallback() {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let slave = std::path::PathBuf::from(ptsname(&master, Vec::new()).unwrap().to_str().unwrap());
    let mut source = AtSource::new(&slave);

    assert_eq!(sample(&mut source), None, "the answer comes later");
    assert_eq!(source.take_new_fds().len(), 1, "the port, to watch");
    assert!(source.take_new_fds().is_empty());
    assert!(source.waiting() && source.deadline().is_some());
    assert_eq!(read_command(&master), "AT+CESQ\r");
    let got = answer(
        &mut source,
        &master,
        "\r\n+CESQ: 99,99,255,255,20,45\r\n\r\nOK\r\n",
    );
    assert_eq!(got, signal(-96.0));
    assert!(!source.waiting() && source.deadline().is_none());

    // An older modem: ERROR to +CESQ, then mimmd asks +CSQ.
    sample(&mut source);
    assert_eq!(read_command(&master), "AT+CESQ\r");
    let got = answer(&mut source, &master, "\r\nERROR\r\n");
    assert!(failure(got).contains("AT+CSQ"));
    sample(&mut source);
    assert_eq!(read_command(&master), "AT+CSQ\r");
    let got = answer(&mut source, &master, "\r\n+CSQ: 17,99\r\n\r\nOK\r\n");
    assert_eq!(got, signal(-79.0));
    assert_eq!(source.detail(), format!("AT+CSQ on {}", slave.display()));

    // A question nobody answers is given up after its timeout.
    sample(&mut source);
    assert!(source.expire(clock::now()).is_none());
    let later = clock::now().saturating_add(mimm_io::clock::Nanos::from_ms(3_100));
    assert!(failure(source.expire(later)).contains("no answer"));
}

#[test]
fn a_tool_run_as_a_child_and_its_output_parsed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("mimmd-modem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tool = dir.join("uqmi");
    std::fs::write(
        &tool,
        "#!/bin/sh\necho '{\"type\":\"lte\",\"rssi\":-67,\"rsrq\":-10,\"rsrp\":-94,\"snr\":34}'\n",
    )
    .unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let broken = dir.join("broken");
    std::fs::write(&broken, "#!/bin/sh\necho 'Device not found' >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o755)).unwrap();

    for (program, want) in [(&tool, Ok(-94.0)), (&broken, Err("exit status: 1"))] {
        let mut source = CommandSource::new(
            "uqmi",
            program.to_str().unwrap(),
            &["--get-signal-info"],
            parse_uqmi,
        );
        assert_eq!(sample(&mut source), None, "the answer comes later");
        let fds = source.take_new_fds();
        assert_eq!(fds.len(), 1, "a pidfd");
        // SAFETY: the source keeps the pidfd open until it read the exit.
        let pidfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fds[0]) };
        wait_readable(pidfd);
        let got = source.on_readable(clock::now());
        match want {
            Ok(v) => assert_eq!(got, signal(v)),
            Err(text) => assert!(failure(got).contains(text)),
        }
        assert!(!source.waiting());
    }
    let mut missing = CommandSource::new("uqmi", "/nonexistent/uqmi", &[], parse_uqmi);
    assert!(failure(sample(&mut missing)).contains("/nonexistent/uqmi"));
    std::fs::remove_dir_all(&dir).unwrap();
}
