//! Tricky inputs and what libuci's `uci show` prints for them, recorded so
//! that they hold without the vendor build and checked against the real
//! `uci` where it is built: a backslash keeps the next character as it is
//! (`\n` is `n`), only a line break after it is special; single quotes
//! inside a value print as `'\''`; a `;` right after a bare word takes the
//! rest of the line with it.

mod common;

use common::{Libuci, RealUci};
use mimm_uci::Package;
use proptest::prelude::*;

const CASES: &[(&str, &[&str])] = &[
    (
        "config t 'a'\n\toption x \"a\\\"b\"\n",
        &["p.a=t", "p.a.x='a\"b'"],
    ),
    (
        "config t 'a'\n\toption x 'it'\\''s'\n",
        &["p.a=t", "p.a.x='it'\\''s'"],
    ),
    (
        "config t 'a'\n\toption x one\\\ntwo\n",
        &["p.a=t", "p.a.x='onetwo'"],
    ),
    (
        "config t 'a'\n\toption x \"a\\nb\"\n",
        &["p.a=t", "p.a.x='anb'"],
    ),
    (
        "config t 'a'\n\toption x a\\ b\n",
        &["p.a=t", "p.a.x='a b'"],
    ),
    (
        "config t 'a'\n\toption x \"a\"'b'c\n",
        &["p.a=t", "p.a.x='abc'"],
    ),
    (
        "config t 'a'\n\toption x a # comment\n",
        &["p.a=t", "p.a.x='a'"],
    ),
    (
        "config t 'a'\n\toption x 'a # b'\n",
        &["p.a=t", "p.a.x='a # b'"],
    ),
    ("config t 'a'\n\toption x a#b\n", &["p.a=t", "p.a.x='a'"]),
    ("config t a; option x 1; option y 2\n", &["p.a=t"]),
    (
        "config t 'a'; option x 1 ; option y '2';option z 3\n",
        &["p.a=t", "p.a.x='1'", "p.a.y='2'", "p.a.z='3'"],
    ),
    ("package other\nconfig t 'a'\npackage more\n", &["p.a=t"]),
    (
        "config s ''\n\toption x 1\n",
        &["p.@s[0]=s", "p.@s[0].x='1'"],
    ),
    (
        "config t 'a'\n\toption x ''\n\tlist y ''\n",
        &["p.a=t", "p.a.y=''"],
    ),
    (
        "config rule\nconfig rule\n\toption name x\nconfig zone\n",
        &[
            "p.@rule[0]=rule",
            "p.@rule[1]=rule",
            "p.@rule[1].name='x'",
            "p.@zone[0]=zone",
        ],
    ),
    (
        "config t 'a'\n\tlist x 'a'; list x \"b c\"\n",
        &["p.a=t", "p.a.x='a' 'b c'"],
    ),
    (
        "c t 'a'\n\to x 1\n\tl y 2\n",
        &["p.a=t", "p.a.x='1'", "p.a.y='2'"],
    ),
    (
        "# only a comment\n\n   \nconfig t 'a'   \n\t\toption   x   '  spaced  '  \n",
        &["p.a=t", "p.a.x='  spaced  '"],
    ),
    (
        "config t 'a'\n\toption x 'first'\n\toption x 'second'\n",
        &["p.a=t", "p.a.x='second'"],
    ),
    (
        "config t 'a'\n\toption x 'y'\n\toption x ''\n",
        &["p.a=t", "p.a.x='y'"],
    ),
    ("config 'type-with.dots' 'a'\n", &["p.a=type-with.dots"]),
    (
        "config t 'a'\r\n\toption x 'y'\r\n",
        &["p.a=t", "p.a.x='y'"],
    ),
];

/// Inputs libuci refuses, with the line it names.
const REFUSED: &[(&str, u32)] = &[
    ("config t 'a';\n", 1),
    ("config\n", 1),
    ("config t 'a'\n\toption x 'open\n\n", 3),
    ("config t a\n\toption x one\\\n two\n", 3),
    ("config t a\npackage a.b\n", 2),
    ("config t 'a'\nconfig u 'a'\n", 2),
];

#[test]
fn refused_where_libuci_refuses() {
    for (input, line) in REFUSED {
        let e = Package::parse(input, "p").expect_err(input);
        assert_eq!(e.pos.line, *line, "{input:?}: {e}");
    }
}

#[test]
fn the_tables_are_what_the_real_uci_prints() {
    let Some(uci) = RealUci::new("the_tables_are_what_the_real_uci_prints", "table") else {
        return;
    };
    for (input, want) in CASES {
        let Libuci::Accepted { show, export } = uci.read(input) else {
            panic!("uci refuses {input:?}");
        };
        let lines: Vec<&str> = show.lines().collect();
        assert_eq!(lines, *want, "{input:?}");
        let ours = Package::parse(input, "p").unwrap().to_text(true);
        assert_eq!(ours, export, "{input:?}");
    }
    for (input, want) in REFUSED {
        match uci.read(input) {
            Libuci::Refused { line, stderr } => assert_eq!(line, *want, "{input:?}: {stderr}"),
            Libuci::Accepted { show, .. } => panic!("uci accepts {input:?}: {show}"),
        }
    }
}

#[test]
fn show_output_matches_libuci() {
    for (input, want) in CASES {
        let p = Package::parse(input, "p").unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(p.show(), *want, "input {input:?}");
        // And the file we would write reads back to the same.
        let again = Package::parse(&p.to_text(false), "p").unwrap();
        assert_eq!(again.show(), *want, "round trip of {input:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_input_panics_and_accepted_input_round_trips(text in "[ -~\\t\\n\\r\\\\'\"#;]{0,200}") {
        let parsed = Package::parse(&text, "p");
        if let Some(p) = parsed.as_ref().ok().filter(|p| p.round_trips()) {
            let again = Package::parse(&p.to_text(false), "p").unwrap();
            prop_assert_eq!(again.show(), p.show());
        }
    }

    #[test]
    fn any_value_survives_writing(value in "\\PC{0,40}") {
        let mut p = Package::new("p");
        let mut s = mimm_uci::Section::new("t", Some("a"));
        s.set("x", &value, mimm_uci::Pos::default());
        p.sections.push(s);
        let again = Package::parse(&p.to_text(true), "q").unwrap();
        prop_assert_eq!(again.section("a").and_then(|s| s.get("x")).unwrap_or(""), value.as_str());
    }
}
