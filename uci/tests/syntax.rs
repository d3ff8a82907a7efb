use std::path::Path;

use mimm_uci::{Package, Pos, Value};

fn parse(text: &str) -> Package {
    Package::parse(text, "mimm").unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> String {
    Package::parse_named(text, "mimm", Some(Path::new("/etc/config/mimm")))
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn reads_a_typical_openwrt_file() {
    let p = parse(
        "# mimm configuration\n\
         config globals 'main'\n\
         \toption sample_ms '1000'   # one second\n\
         \toption mode route\n\
         \n\
         config interface 'wan'\n\
         \toption device \"wwan0\"\n\
         \tlist probe '198.51.100.1'\n\
         \tlist probe 198.51.100.2\n\
         config interface\n\
         \toption device eth1\n",
    );
    assert_eq!(p.sections.len(), 3);
    let main = p.section("main").unwrap();
    assert_eq!(main.kind, "globals");
    assert_eq!(main.get("sample_ms"), Some("1000"));
    assert_eq!(main.get("mode"), Some("route"));
    let wan = p.section("wan").unwrap();
    assert_eq!(wan.get("device"), Some("wwan0"));
    assert_eq!(
        wan.option("probe").unwrap().value,
        Value::List(vec!["198.51.100.1".into(), "198.51.100.2".into()])
    );
    assert_eq!(wan.pos, Pos { line: 6, col: 1 });
    assert_eq!(wan.option("device").unwrap().pos, Pos { line: 7, col: 2 });
    assert_eq!(p.sections[2].name, None);
    assert_eq!(p.sections_of("interface").count(), 2);
}

#[test]
fn quoting_escapes_joining_continuation_and_separators() {
    let p = parse(concat!(
        "config t 's'; option a 'x\"y'; option b \"say \\\"hi\\\" \\\\ \"\n",
        "option c 'a'\"b\"c\\ d\n",
        "option d one\\\n",
        "two\n",
        "option e 'multi\nline'\n",
        "option f 'it'\\''s'\n",
        "option g a#comment\n",
        "o h short ; l i x ; l i y\n",
        "option j '#not a comment'\n",
    ));
    let s = p.section("s").unwrap();
    assert_eq!(s.get("a"), Some("x\"y"));
    assert_eq!(s.get("b"), Some("say \"hi\" \\ "));
    assert_eq!(s.get("c"), Some("abc d"));
    assert_eq!(s.get("d"), Some("onetwo"));
    assert_eq!(s.get("e"), Some("multi\nline"));
    assert_eq!(s.get("f"), Some("it's"));
    assert_eq!(s.get("g"), Some("a"));
    assert_eq!(s.get("h"), Some("short"));
    assert_eq!(s.option("i").unwrap().value.items(), ["x", "y"]);
    assert_eq!(s.get("j"), Some("#not a comment"));
}

#[test]
fn merges_like_libuci() {
    let p = parse(
        "config t 'a'\noption x 1\noption y 2\nconfig t 'a'\noption x 3\nlist y 4\noption z 5\noption z ''\n",
    );
    assert_eq!(p.sections.len(), 1);
    let a = p.section("a").unwrap();
    assert_eq!(a.get("x"), Some("3"));
    assert_eq!(a.option("y").unwrap().value.items(), ["2", "4"]);
    assert_eq!(a.get("z"), Some("5"), "an empty value changes nothing");
}

/// libuci names a loaded file's package after the file: a `package`
/// statement, anywhere, is only checked.
#[test]
fn a_package_statement_is_checked_and_ignored() {
    let p = parse("package other\nconfig t\npackage more-of_it\n");
    assert_eq!(p.name, "mimm");
    assert_eq!(p.sections.len(), 1);
    assert_eq!(
        err("package a.b\n"),
        "/etc/config/mimm:1:9: invalid package name \"a.b\": letters, digits, '_' and '-' only"
    );
}

/// What libuci makes of `;`: after a bare word it is overwritten with the
/// word's end and the rest of the line is lost; after a quote or a blank it
/// separates commands; ending a line it is an error.
#[test]
fn semicolons_as_libuci_reads_them() {
    let p = parse("config t a; option x 1\nconfig t 'b'; option x 1; option y 2\n");
    assert_eq!(p.section("a").unwrap().options.len(), 0);
    let b = p.section("b").unwrap();
    assert_eq!((b.get("x"), b.get("y")), (Some("1"), None));
    let c = parse("config t c ; option x '1';option y 2 ;option z 3\n");
    let c = c.section("c").unwrap();
    assert_eq!(
        (c.get("x"), c.get("y"), c.get("z")),
        (Some("1"), Some("2"), Some("3"))
    );
    assert_eq!(
        err("config t 'a';\n"),
        "/etc/config/mimm:1:14: nothing after ';' (a line may not end in one)"
    );
    // An anonymous section by an empty name.
    assert_eq!(parse("config s ''\n").sections[0].name, None);
}

#[test]
fn errors_name_file_line_and_column() {
    assert_eq!(
        err("config interface 'wan'\n\toption metric rate extra\n"),
        "/etc/config/mimm:2:21: too many arguments (from \"extra\")"
    );
    assert_eq!(
        err("config interface 'wan-lte'\n"),
        "/etc/config/mimm:1:18: invalid section name \"wan-lte\": letters, digits and '_' only"
    );
    assert_eq!(
        err("config t 'a'\n  option metric-x 1\n"),
        "/etc/config/mimm:2:10: invalid option name \"metric-x\": letters, digits and '_' only"
    );
    assert_eq!(
        err("option x 1\n"),
        "/etc/config/mimm:1:1: option before the first section"
    );
    assert_eq!(
        err("config t\nfoo x\n"),
        "/etc/config/mimm:2:1: invalid command \"foo\""
    );
    assert_eq!(
        err("config\n"),
        "/etc/config/mimm:1:1: config: arguments missing"
    );
    assert_eq!(
        err("config t 'a'\noption x 'never closed\n\n# the end\n"),
        "/etc/config/mimm:4:10: end of file inside a '-quoted string (opened at 2:10)"
    );
    assert_eq!(
        err("config t 'a'\nconfig u 'a'\n"),
        "/etc/config/mimm:2:1: section \"a\" of type \"u\" overwrites one of type \"t\""
    );
    // libuci counts only lines read through their break; the last one
    // without it is named all the same.
    assert_eq!(
        err("config t a\noption"),
        "/etc/config/mimm:2:1: option without arguments"
    );
}

#[test]
fn show_and_export_round_trip() {
    let text = "config interface 'wan'\n\toption metric 'signal_dbm'\n\tlist probe '1.2.3.4'\n\tlist probe \"it's\"\nconfig probe\n\toption x 'y'\nconfig probe\n";
    let p = parse(text);
    assert_eq!(
        p.show(),
        [
            "mimm.wan=interface",
            "mimm.wan.metric='signal_dbm'",
            "mimm.wan.probe='1.2.3.4' 'it'\\''s'",
            "mimm.@probe[0]=probe",
            "mimm.@probe[0].x='y'",
            "mimm.@probe[1]=probe",
        ]
    );
    let exported = p.to_text(true);
    assert!(
        exported
            .starts_with("package mimm\n\nconfig interface 'wan'\n\toption metric 'signal_dbm'\n"),
        "{exported}"
    );
    let again = Package::parse(&exported, "mimm").unwrap();
    assert_eq!(again.show(), p.show());
}

#[test]
fn never_panics_on_garbage() {
    let base = "config t 'a'\n\toption b \"c\\\\d\" # e\n\tlist f 'g'\n";
    let alphabet = [
        '\'', '"', '\\', '\n', '#', ';', ' ', 'a', '_', '-', '\t', '\r',
    ];
    let mut seed: u64 = 0x1234_5678_9abc_def1;
    for _ in 0..20_000 {
        let mut chars: Vec<char> = base.chars().collect();
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed % chars.len() as u64) as usize;
            chars[at] = alphabet[(seed >> 40) as usize % alphabet.len()];
        }
        let text: String = chars.into_iter().collect();
        if let Ok(p) = Package::parse(&text, "x") {
            if p.round_trips() {
                let again = Package::parse(&p.to_text(false), "x").unwrap();
                assert_eq!(again.show(), p.show(), "{text:?}");
            }
        }
    }
}
