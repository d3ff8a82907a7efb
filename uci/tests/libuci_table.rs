//! Tricky inputs and what libuci's `uci show` prints for them. The expected
//! lines follow libuci's parser (file.c: parse_str, parse_double_quote,
//! parse_backslash, uci_parse_line) and `uci show`'s quoting: a backslash
//! keeps the next character as it is (`\n` is `n`), only a line break after
//! it is special, and single quotes inside a value print as `'\''`.

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
    (
        "config t a; option x 1; option y 2\n",
        &["p.a=t", "p.a.x='1'", "p.a.y='2'"],
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
    ("config t 'a'\n\toption x 'y'\n\toption x ''\n", &["p.a=t"]),
    ("config 'type-with.dots' 'a'\n", &["p.a=type-with.dots"]),
    (
        "config t 'a'\r\n\toption x 'y'\r\n",
        &["p.a=t", "p.a.x='y'"],
    ),
];

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
        if let Ok(p) = Package::parse(&text, "p") {
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
