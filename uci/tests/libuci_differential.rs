//! mimm-uci against libuci itself: generated files, each read by the real
//! `uci` (built from `../shared/vendor`) and by mimm-uci. Both must accept
//! or both refuse; accepted, `uci show` and `uci export` print what
//! [`Package::show`] and [`Package::to_text`] give; refused, the error names
//! the line libuci names (one more where the file's last line has no line
//! break: libuci counts only lines it read through their break).

mod common;

use common::{Libuci, RealUci};
use mimm_uci::Package;

/// Files generated per run (`MIMM_UCI_FILES` for more, `MIMM_UCI_SEED` for
/// others).
const FILES: usize = 3_000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// splitmix64: a fixed seed, so a difference found is found again.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True one time in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Raw text of a word: what it is made of, quoting and all. One in
/// `odd` is odd (a word from the pool's second half, joined pieces, a
/// continuation, a special character inside).
fn piece(rng: &mut Rng, pool: &[&str], odd: usize) -> String {
    let plain = &pool[..pool.len().div_ceil(2)];
    if !rng.one_in(odd) {
        let base = rng.pick(plain);
        return match rng.below(6) {
            0..=2 => base.to_string(),
            3 | 4 => format!("'{base}'"),
            _ => format!("\"{base}\""),
        };
    }
    let base = rng.pick(pool);
    match rng.below(5) {
        0 => base.to_string(),
        1 => format!("'{base}'\"{}\"", rng.pick(pool)),
        2 => format!("{base}\\\n{}", rng.pick(pool)),
        3 => format!("\"{base}\\\"{}\"", rng.pick(pool)),
        _ => {
            // Specials right inside a word.
            let special = rng.pick(&[";", "#", "\\", "'", "\"", "\\ ", "\t", "\\n", "'\n'"]);
            format!("{base}{special}{}", rng.pick(pool))
        }
    }
}

// Valid and plain first, then the rest.
const NAMES: &[&str] = &["a", "b", "wan", "x_1", "lan2", "A", "", "a-b", "a.b", "1"];
const TYPES: &[&str] = &["interface", "t", "rule", "x-y", "a.b", "globals", "é"];
const VALUES: &[&str] = &[
    "1", "on", "10.0.0.1", "-117", "x_y", "eth0.2", "yes", "a b", "it's", "", "x;y", "#", "é", "\t",
];

/// One command; one in `odd` of its words odd, one in `odd` commands
/// with an argument too many, or not a command at all.
fn command(rng: &mut Rng, odd: usize) -> String {
    let (mut out, args) = match rng.below(10) {
        0..=2 => (
            format!("{} {}", rng.pick(&["config", "c"]), piece(rng, TYPES, odd)),
            1,
        ),
        3..=8 => {
            let kw = rng.pick(&["option", "o", "option", "list", "l", "option"]);
            (format!("{kw} {}", piece(rng, NAMES, odd)), 1)
        }
        _ => (
            format!("{} {}", rng.pick(&["package", "p"]), piece(rng, NAMES, odd)),
            0,
        ),
    };
    if rng.one_in(odd * 2) {
        return rng
            .pick(&["config", "option", "foo", "conf", "#x", "list"])
            .to_string();
    }
    let args = args + usize::from(rng.one_in(odd * 2));
    for _ in 0..args {
        let pool = if out.starts_with('c') { NAMES } else { VALUES };
        out.push_str(rng.pick(&[" ", "\t", "  "]));
        out.push_str(&piece(rng, pool, odd));
    }
    out
}

/// A file of up to 10 lines; `odd` as in [`command`], from 4 (most files
/// refused) to 60 (most accepted).
fn file(rng: &mut Rng) -> String {
    let odd = rng.pick(&["4", "15", "60"]).parse().unwrap();
    let mut out = String::new();
    // Mostly a section first, so that options have somewhere to go.
    if !rng.one_in(8) {
        let (kind, name) = (piece(rng, TYPES, odd), piece(rng, NAMES, odd));
        out.push_str(&format!("config {kind} {name}\n"));
    }
    for _ in 0..rng.below(10) {
        out.push_str(rng.pick(&["", "", "\t", "  ", " \t"]));
        match rng.below(10) {
            0 => {}
            1 => out.push_str("# a comment; 'quoted'"),
            _ => {
                out.push_str(&command(rng, odd));
                while rng.one_in(5) {
                    out.push_str(rng.pick(&[";", " ;", "; ", " ; ", ";\t"]));
                    out.push_str(&command(rng, odd));
                }
                if rng.one_in(odd) {
                    out.push_str(rng.pick(&[";", " # c", " ;", "\\"]));
                }
            }
        }
        out.push_str(rng.pick(&["\n", "\n", "\n", "\n", "\n", "\n", "\r\n", " \n"]));
    }
    if rng.one_in(8) {
        out.pop();
    }
    out
}

/// How the two differ on `text`, if they do.
fn difference(uci: &RealUci, text: &str) -> Option<String> {
    let ours = Package::parse(text, "p");
    match (uci.read(text), ours) {
        (Libuci::Accepted { show, export }, Ok(p)) => {
            let our_show: String = p.show().iter().map(|l| format!("{l}\n")).collect();
            if our_show != show {
                return Some(format!("show: libuci {show:?}, mimm {our_show:?}"));
            }
            let our_export = p.to_text(true);
            (our_export != export)
                .then(|| format!("export: libuci {export:?}, mimm {our_export:?}"))
        }
        (Libuci::Accepted { show, .. }, Err(e)) => {
            Some(format!("libuci accepts ({show:?}), mimm refuses: {e}"))
        }
        (Libuci::Refused { stderr, .. }, Ok(p)) => Some(format!(
            "libuci refuses ({}), mimm accepts: {:?}",
            stderr.trim(),
            p.show()
        )),
        (Libuci::Refused { line, stderr }, Err(e)) => {
            let unbroken_last = !text.ends_with('\n') && e.pos.line == line + 1;
            (e.pos.line != line && !unbroken_last)
                .then(|| format!("error line: libuci {line} ({}), mimm {e}", stderr.trim()))
        }
    }
}

#[test]
fn generated_files_read_as_libuci_reads_them() {
    let test = "generated_files_read_as_libuci_reads_them";
    let Some(uci) = RealUci::new(test, "diff") else {
        return;
    };
    let mut rng = Rng(env_or("MIMM_UCI_SEED", 0x6d69_6d6d));
    let files = env_or("MIMM_UCI_FILES", FILES as u64) as usize;
    let (mut refused, mut differences) = (0, Vec::new());
    for i in 0..files {
        let text = file(&mut rng);
        if let Err(e) = Package::parse(&text, "p") {
            refused += 1;
            if std::env::var_os("MIMM_UCI_SHOW_REFUSED").is_some() {
                eprintln!("{e}");
            }
        }
        if let Some(d) = difference(&uci, &text) {
            differences.push(format!("file {i} {text:?}: {d}"));
        }
    }
    eprintln!(
        "{files} generated files, {refused} refused by both, {} differences",
        differences.len()
    );
    assert!(
        differences.is_empty(),
        "{} of {files} differ, the first:\n{}",
        differences.len(),
        differences[..differences.len().min(8)].join("\n")
    );
    // The generator reaches both sides.
    assert!(
        refused > files / 10 && refused < files * 9 / 10,
        "{refused}"
    );
}
