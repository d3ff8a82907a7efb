use std::path::{Path, PathBuf};

use mimm_trace::{Column, ErrorKind, Row, Trace, TraceError};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn parse_err(text: &str) -> TraceError {
    Trace::parse_named(text, Some(Path::new("bad.csv"))).expect_err("must be rejected")
}

const HEADER: &str = "t_ms,iface,kind,signal_dbm,rate_kbps,rtt_ms,loss_pct,up\n";

#[test]
fn reads_the_shipped_trace() {
    let trace = Trace::from_path(data("small.csv")).unwrap();
    assert_eq!(trace.ifaces(), ["cell", "wifi"]);
    assert_eq!(trace.rows.len(), 8);
    assert_eq!(trace.comments.len(), 2);
    assert_eq!(trace.duration_ms(), 4000);
    let dropout = &trace.rows[5];
    assert_eq!(dropout.iface, "cell");
    assert_eq!(dropout.kind, None);
    assert_eq!(dropout.rate_kbps, None);
    assert_eq!(dropout.up, Some(false));
    assert_eq!(trace.rows[2].loss_pct, Some(1.5));
    assert_eq!(trace.rows[3].loss_pct, None);
    // A row holds until the interface's next row.
    assert_eq!(
        trace.state_at("cell", 2999).unwrap().rate_kbps,
        Some(1000.0)
    );
    assert_eq!(trace.state_at("cell", 3000).unwrap().up, Some(false));
    assert_eq!(
        trace.state_at("wifi", 2500).unwrap().rate_kbps,
        Some(25000.0)
    );
    assert!(trace.state_at("none", 2500).is_none());
}

#[test]
fn reads_every_shared_trace() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces");
    if !mimm_requires::path("reads_every_shared_trace", &dir, "the shared traces") {
        return;
    }
    let entries = std::fs::read_dir(&dir).unwrap();
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            let trace = Trace::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!trace.rows.is_empty(), "{} has no rows", path.display());
            // Writing and reading back gives the same trace.
            let again = Trace::parse(&trace.to_csv()).unwrap();
            assert_eq!(again, trace, "{} does not round-trip", path.display());
            count += 1;
        }
    }
    assert!(count >= 10, "only {count} shared traces found");
}

#[test]
fn round_trips_awkward_values() {
    let mut trace = Trace {
        comments: vec!["provenance: made up".into(), String::new()],
        rows: Vec::new(),
    };
    let mut row = Row::new(0, "wwan0");
    row.signal_dbm = Some(-101.25);
    row.rate_kbps = Some(0.001);
    row.up = Some(true);
    trace.push(row).unwrap();
    let mut row = Row::new(0, "wlan-0.1");
    row.kind = Some("wifi".into());
    row.loss_pct = Some(100.0);
    row.rtt_ms = Some(12345.5);
    trace.push(row).unwrap();
    trace.push(Row::new(7, "wwan0")).unwrap();
    let text = trace.to_csv();
    assert_eq!(Trace::parse(&text).unwrap(), trace);
    assert!(text.contains("\n0,wwan0,,-101.25,0.001,,,1\n"), "{text}");
    assert!(text.contains("\n7,wwan0,,,,,,\n"), "{text}");
}

#[test]
fn push_refuses_time_going_back_and_bad_names() {
    let mut trace = Trace::default();
    trace.push(Row::new(10, "a")).unwrap();
    assert!(matches!(
        trace.push(Row::new(9, "a")).unwrap_err().kind,
        ErrorKind::TimeWentBack { .. }
    ));
    assert!(trace.push(Row::new(10, "a,b")).is_err());
    assert!(trace.push(Row::new(10, "")).is_err());
    assert_eq!(trace.rows.len(), 1);
}

#[test]
fn accepts_crlf_blank_lines_comments_anywhere_and_reordered_columns() {
    let text = "# c1\r\nup,iface,t_ms\r\n\r\n1,a,0\r\n# c2\r\n0,a,5\r\n";
    let trace = Trace::parse(text).unwrap();
    assert_eq!(trace.comments, ["c1", "c2"]);
    assert_eq!(trace.rows.len(), 2);
    assert_eq!(trace.rows[1].t_ms, 5);
    assert_eq!(trace.rows[1].up, Some(false));
    assert_eq!(trace.rows[1].rate_kbps, None);
}

#[test]
fn rejects_missing_header() {
    let e = parse_err("# only a comment\n0,cell,lte,-90,1,1,0,1\n");
    assert_eq!(e.kind, ErrorKind::MissingHeader);
    assert_eq!(e.line, 2);
    assert!(
        e.to_string().starts_with("bad.csv:2:1: missing header"),
        "{e}"
    );
    let e = parse_err("# nothing but comments\n");
    assert_eq!(e.kind, ErrorKind::MissingHeader);
    assert_eq!(parse_err("").kind, ErrorKind::MissingHeader);
}

#[test]
fn rejects_time_going_back() {
    let e = parse_err(&format!("{HEADER}1000,a,,,,,,1\n999,b,,,,,,1\n"));
    assert_eq!(
        e.kind,
        ErrorKind::TimeWentBack {
            t_ms: 999,
            previous: 1000
        }
    );
    assert_eq!((e.line, e.col), (3, Some(1)));
    assert_eq!(
        e.to_string(),
        "bad.csv:3:1: field t_ms: time goes back: 999 after 1000"
    );
}

#[test]
fn rejects_non_numeric_fields() {
    let e = parse_err(&format!("{HEADER}0,a,lte,-90,fast,,,1\n"));
    assert_eq!(
        e.kind,
        ErrorKind::NotANumber {
            column: Column::RateKbps,
            value: "fast".into()
        }
    );
    assert_eq!((e.line, e.col), (2, Some(13)));
    assert_eq!(
        e.to_string(),
        "bad.csv:2:13: field rate_kbps: not a number: \"fast\""
    );
    for (row, column) in [
        ("0,a,lte,NaN,,,,1", Column::SignalDbm),
        ("0,a,lte,,,inf,,1", Column::RttMs),
        ("0,a,lte,,,,5%,1", Column::LossPct),
    ] {
        let e = parse_err(&format!("{HEADER}{row}\n"));
        assert_eq!(e.kind.column(), Some(column), "{row}: {e}");
    }
    let e = parse_err(&format!("{HEADER}1.5,a,,,,,,1\n"));
    assert!(matches!(e.kind, ErrorKind::NotAnInteger { .. }), "{e}");
    let e = parse_err(&format!("{HEADER}-1,a,,,,,,1\n"));
    assert!(matches!(e.kind, ErrorKind::NotAnInteger { .. }), "{e}");
}

#[test]
fn rejects_unknown_and_duplicate_columns() {
    let e = parse_err("t_ms,iface,snr_db\n");
    assert_eq!(e.kind, ErrorKind::UnknownColumn("snr_db".into()));
    assert_eq!((e.line, e.col), (1, Some(12)));
    assert!(
        e.to_string()
            .contains("bad.csv:1:12: unknown column \"snr_db\""),
        "{e}"
    );
    let e = parse_err("t_ms,iface,up,up\n");
    assert_eq!(e.kind, ErrorKind::DuplicateColumn(Column::Up));
    let e = parse_err("iface,up\n");
    assert_eq!(e.kind, ErrorKind::MissingColumn(Column::TMs));
}

#[test]
fn rejects_bad_rows() {
    let cases = [
        ("0,a,,,,,,1,extra", "expected 8 fields, found 9"),
        ("0,a,,,", "expected 8 fields, found 5"),
        ("0,,,,,,,1", "field iface: must not be empty"),
        (",a,,,,,,1", "field t_ms: must not be empty"),
        ("0,a b,,,,,,1", "field iface:"),
        ("0,a,,,,,,yes", "field up: must be 0, 1 or empty"),
        ("0,a,,,,,101,1", "field loss_pct: 101 is out of range"),
        ("0,a,,,-5,,,1", "field rate_kbps: -5 is out of range"),
        ("0,a,,-300,,,,1", "field signal_dbm: -300 is out of range"),
        (
            "99999999999999999999999,a,,,,,,1",
            "field t_ms: 99999999999999999999999 is out",
        ),
    ];
    for (row, want) in cases {
        let e = parse_err(&format!("{HEADER}{row}\n"));
        assert_eq!(e.line, 2, "{row}");
        let text = e.to_string();
        assert!(text.starts_with("bad.csv:2"), "{row}: {text}");
        assert!(text.contains(want), "{row}: {text} lacks {want}");
    }
}

#[test]
fn reports_io_and_encoding_errors_with_the_file() {
    let e = Trace::from_path("/nonexistent/trace.csv").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Io(_)));
    assert!(
        e.to_string()
            .starts_with("/nonexistent/trace.csv: cannot read"),
        "{e}"
    );
    let dir = std::env::temp_dir().join(format!("mimm-trace-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("latin1.csv");
    std::fs::write(&path, b"t_ms,iface\n0,caf\xe9\n").unwrap();
    let e = Trace::from_path(&path).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(e.kind, ErrorKind::NotUtf8);
}

#[test]
fn never_panics_on_garbage() {
    // A cheap deterministic fuzz: mutate a valid file byte by byte.
    let base = format!("{HEADER}0,a,lte,-90,100,20,0.5,1\n10,b,wifi,,,,,0\n");
    let alphabet = b",\n\r#-.0123456789aeinfNx \t\"";
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        let mut bytes = base.clone().into_bytes();
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed % bytes.len() as u64) as usize;
            bytes[at] = alphabet[(seed >> 32) as usize % alphabet.len()];
        }
        if let Ok(text) = std::str::from_utf8(&bytes) {
            if let Ok(trace) = Trace::parse(text) {
                assert_eq!(Trace::parse(&trace.to_csv()).unwrap(), trace);
            }
        }
    }
}
